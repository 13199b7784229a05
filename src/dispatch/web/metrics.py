"""GET /metrics: the app's `dispatch.metrics.Metrics` in the Prometheus text format."""

from __future__ import annotations

from fastapi import FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST

from dispatch.metrics import Metrics


def mount(app: FastAPI, metrics: Metrics) -> None:
    """Serve `metrics` at GET /metrics (Prometheus text format)."""
    app.state.metrics = metrics

    def scrape(request: Request) -> Response:
        registry_owner: Metrics = request.app.state.metrics
        return Response(registry_owner.exposition(), media_type=CONTENT_TYPE_LATEST)

    app.add_api_route("/metrics", scrape, methods=["GET"], include_in_schema=False)
