"""The sandbox's shared machinery: errors, identities, permissions, pagination."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from promobot_sandbox.github.store import Record

DOCS = "https://docs.github.com/rest"
PERMISSIONS = ("read", "triage", "write", "maintain", "admin")
Permission = Literal["read", "triage", "write", "maintain", "admin"]


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class ApiError(Exception):
    """An error answered in GitHub's format: `{"message", "documentation_url"[, "errors"]}`."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        errors: list[Any] | None = None,
        headers: dict[str, str] | None = None,
        docs: str = DOCS,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors
        self.headers = headers or {}
        self.docs = docs

    def response(self) -> JSONResponse:
        body: dict[str, Any] = {"message": self.message, "documentation_url": self.docs}
        if self.errors is not None:
            body["errors"] = self.errors
        if self.status == 422 and self.errors is None:
            body["errors"] = []
        return JSONResponse(body, status_code=self.status, headers=self.headers)


def not_found() -> ApiError:
    return ApiError(404, "Not Found")


def invalid(
    resource: str, field_name: str, message: str | None = None, code: str = "invalid"
) -> ApiError:
    """422 Validation Failed, with one entry in `errors` naming the field."""
    error: dict[str, Any] = {"resource": resource, "field": field_name, "code": code}
    if message is not None:
        error["message"] = message
    return ApiError(422, "Validation Failed", errors=[error])


@dataclass(frozen=True)
class Identity:
    """Who sent the request: a user (by token), an app (by JWT) or an installation."""

    kind: Literal["user", "app", "installation"]
    login: str | None
    app_id: int | None = None
    installation_id: int | None = None


def has_permission(actual: str | None, needed: Permission) -> bool:
    return actual is not None and PERMISSIONS.index(actual) >= PERMISSIONS.index(needed)


def best_permission(values: list[str]) -> str | None:
    known = [v for v in values if v in PERMISSIONS]
    return max(known, key=PERMISSIONS.index) if known else None


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        content=json.dumps(body),
        status_code=status,
        media_type="application/json; charset=utf-8",
        headers=headers,
    )


def paginate(request: Request, items: list[Any]) -> Response:
    """One page of `items` with GitHub's `Link` header (PyGithub follows `rel="next"`)."""
    try:
        per_page = min(max(int(request.query_params.get("per_page", 30)), 1), 100)
        page = max(int(request.query_params.get("page", 1)), 1)
    except ValueError as error:
        raise ApiError(400, "Invalid page or per_page parameter") from error
    start = (page - 1) * per_page
    chunk = items[start : start + per_page]
    last = max((len(items) + per_page - 1) // per_page, 1)
    links = []

    def page_url(number: int) -> str:
        return str(request.url.include_query_params(page=number, per_page=per_page))

    if page < last:
        links.append(f'<{page_url(page + 1)}>; rel="next"')
        links.append(f'<{page_url(last)}>; rel="last"')
    if page > 1:
        links.append(f'<{page_url(1)}>; rel="first"')
        links.append(f'<{page_url(page - 1)}>; rel="prev"')
    headers = {"Link": ", ".join(links)} if links else None
    return json_response(chunk, headers=headers)


@dataclass
class Fault:
    """An injected failure: matching requests answer `status` (count times) after a delay;
    with `status` None and `answer_late`, the request is carried out and only its answer
    is late (a client giving up or dying meanwhile never learns that it succeeded)."""

    method: str
    path_regex: str
    status: int | None
    count: int
    latency_ms: int = 0
    answer_late: bool = False
    retry_after: int | None = 1
    primary_rate_limit: bool = False
    reset_in: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    message: str | None = None
    hits: int = 0


@dataclass
class RequestLog:
    """What the sandbox answered, in order: `{"method", "path", "status"}`."""

    entries: list[dict[str, Any]] = field(default_factory=list)


def require_record(record: Record | None) -> Record:
    if record is None:
        raise not_found()
    return record
