"""Every `/api` error is JSON: `{"error": {"message": …, "field": …}}`.

- `ApiProblem(status, message, field)` is what routes raise; `problem(exc)` turns a
  `DispatchError` from the domain into one (NotFound → 404, CampaignError → 409,
  IngestError, InvalidAddress, AccountError → 422), naming the request field at fault.
- Request validation errors are 422 with every field path (`body.title`,
  `query.per_page`) in `error.errors`; the first one is `error.field`.
- Auth refusals (401/403 from `api_principal`), unknown routes (404) and wrong methods
  (405) keep their status and headers; their body also keeps FastAPI's `detail`. A body
  FastAPI cannot even parse (400: not UTF-8, broken form) is 422 on field `body`.
- `install(app)` wraps the app's handlers so that paths outside `/api` are answered
  exactly as before (the site's 404 page, the admin's login redirect).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import (
    http_exception_handler,
    request_validation_exception_handler,
)
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from dispatch.errors import (
    AccountError,
    CampaignError,
    ConfigError,
    DispatchError,
    IngestError,
    InvalidAddress,
    MediaError,
    NotFound,
    RenderError,
    ScheduleError,
    SegmentError,
    TagError,
)

PREFIX = "/api"
Handler = Callable[[Request, Any], Awaitable[Response]]
STATUS_OF: tuple[tuple[type[DispatchError], int], ...] = (
    (NotFound, 404),
    (ConfigError, 404),  # a list no longer in config.toml
    (CampaignError, 409),
    (IngestError, 422),
    (InvalidAddress, 422),
    (AccountError, 422),
    (RenderError, 422),
    (ScheduleError, 422),
    (MediaError, 422),
    (SegmentError, 422),
    (TagError, 422),
)


class FieldError(BaseModel):
    field: str | None
    message: str


class ErrorDetail(BaseModel):
    message: str
    field: str | None = None
    errors: list[FieldError] | None = None


class ErrorResponse(BaseModel):
    error: ErrorDetail


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` entries for these error statuses."""
    return {status: {"model": ErrorResponse} for status in statuses}


class ApiProblem(Exception):
    """An API error with its status, message and the request field at fault."""

    def __init__(
        self,
        status: int,
        message: str,
        field: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.field, self.headers = status, message, field, headers


def problem(exc: DispatchError, field: str | None = None) -> ApiProblem:
    status = next((code for kind, code in STATUS_OF if isinstance(exc, kind)), 500)
    message = exc.reason if isinstance(exc, IngestError) else str(exc)
    return ApiProblem(status, message, field)


def body(message: str, field: str | None = None, **extra: Any) -> dict[str, Any]:
    detail = ErrorDetail(message=message, field=field, **extra)
    return {"error": detail.model_dump(exclude_none=True) | {"field": field}}


def is_api(request: Request) -> bool:
    path = request.url.path
    return path == PREFIX or path.startswith(f"{PREFIX}/")


async def problem_handler(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiProblem)
    return JSONResponse(body(exc.message, exc.field), exc.status, headers=exc.headers)


def field_path(location: tuple[Any, ...] | list[Any]) -> str:
    return ".".join(str(part) for part in location)


def validation_response(exc: RequestValidationError) -> JSONResponse:
    found = [
        FieldError(field=field_path(item.get("loc", ())), message=str(item.get("msg", "invalid")))
        for item in exc.errors()
    ]
    first = found[0] if found else FieldError(field=None, message="invalid request")
    errors = [item.model_dump() for item in found]
    return JSONResponse(body(first.message, first.field, errors=errors), 422)


def http_response(exc: StarletteHTTPException) -> JSONResponse:
    message = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
    if exc.status_code == 400:  # FastAPI's "error parsing the body": a validation error
        return JSONResponse(body(message, "body"), 422)
    content = body(message) | {"detail": exc.detail}
    return JSONResponse(content, exc.status_code, headers=getattr(exc, "headers", None))


def install(app: FastAPI) -> None:
    """JSON errors under /api; every other path keeps the handler it had."""
    app.add_exception_handler(ApiProblem, problem_handler)
    handlers = app.exception_handlers

    def wrap(key: Any, default: Handler, api: Callable[[Any], Response]) -> None:
        before: Handler = handlers.get(key, default)

        async def handler(request: Request, exc: Any) -> Response:
            return api(exc) if is_api(request) else await before(request, exc)

        app.add_exception_handler(key, handler)

    wrap(RequestValidationError, request_validation_exception_handler, validation_response)
    wrap(StarletteHTTPException, http_exception_handler, http_response)
    for status in [key for key in handlers if isinstance(key, int)]:
        wrap(status, http_exception_handler, _status_response(status))


def _status_response(status: int) -> Callable[[Any], Response]:
    def respond(exc: Any) -> Response:
        if isinstance(exc, StarletteHTTPException):
            return http_response(exc)
        return http_response(StarletteHTTPException(status))

    return respond
