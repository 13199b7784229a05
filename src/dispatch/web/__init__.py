"""The web app: `create_app(settings)` gives the FastAPI application."""

from __future__ import annotations

from dispatch.web.app import create_app

__all__ = ["create_app"]
