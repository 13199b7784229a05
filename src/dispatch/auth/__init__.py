"""Who may do what: editors (passwords, lock-out, signed session cookies, CSRF tokens)
for `/admin`, and scoped API tokens for `/api`. The FastAPI dependencies are in `deps`."""

from __future__ import annotations
