"""GET /metrics: the app's `dispatch.metrics.Metrics` in the Prometheus text format.

Never public: on the site's own port it answers only a request that carries the metrics
token (`Authorization: Bearer …`, from DISPATCH_METRICS_TOKEN or `[metrics] token_file`),
and is a plain 404 when no token is configured. `[metrics] listen` gives it a listener of
its own instead (`dispatch serve` starts it), for a network only the monitoring reaches.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable

from fastapi import FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, start_http_server

from dispatch.config import Settings
from dispatch.metrics import Metrics

CHALLENGE = {"WWW-Authenticate": 'Bearer realm="metrics"'}


def mount(app: FastAPI, metrics: Metrics, settings: Settings) -> None:
    """Serve `metrics` at GET /metrics (Prometheus text format) to the token's holder."""
    app.state.metrics = metrics
    secret = settings.metrics_token  # read once: a missing or empty file fails at start
    app.state.metrics_token = secret.get_secret_value() if secret is not None else None

    def scrape(request: Request) -> Response:
        if request.app.state.metrics_token is None:
            return Response("Not Found", status_code=404, media_type="text/plain")
        if not has_metrics_token(request):
            return Response("metrics token required", 401, CHALLENGE, media_type="text/plain")
        registry_owner: Metrics = request.app.state.metrics
        return Response(registry_owner.exposition(), media_type=CONTENT_TYPE_LATEST)

    app.add_api_route("/metrics", scrape, methods=["GET"], include_in_schema=False)


def has_metrics_token(request: Request) -> bool:
    """True when the request carries the configured metrics token as its bearer."""
    expected: str | None = request.app.state.metrics_token
    scheme, _, presented = request.headers.get("authorization", "").partition(" ")
    if expected is None or scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(presented.strip().encode(), expected.encode())


def serve_separately(settings: Settings, metrics: Metrics) -> Callable[[], None] | None:
    """Start the `[metrics] listen` server (a thread); returns the function that stops it."""
    address = settings.metrics.address
    if address is None:
        return None
    host, port = address
    server, thread = start_http_server(port, host, registry=metrics.registry)

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join(5)

    return stop
