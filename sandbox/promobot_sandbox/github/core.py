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
Json = dict[str, Any]
# GitHub's limit on bodies of pull requests, issues, comments and reviews.
# https://docs.github.com/en/rest/pulls/pulls#create-a-pull-request (422 "body is too long")
MAX_BODY = 65536


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


def too_long_text(field_name: str, maximum: int) -> str:
    return f"{field_name} is too long (maximum is {maximum} characters)"


def too_long(resource: str, field_name: str, maximum: int) -> ApiError:
    """422 for a text over GitHub's limit, worded as GitHub's validation errors are."""
    return invalid(resource, field_name, too_long_text(field_name, maximum), code="custom")


def check_body(resource: str, value: Any, field_name: str = "body") -> None:
    if isinstance(value, str) and len(value) > MAX_BODY:
        raise too_long(resource, field_name, MAX_BODY)


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
    permissions: tuple[tuple[str, str], ...] = ()

    @property
    def granted(self) -> dict[str, str]:
        """An installation token's App permissions (name → read | write | admin)."""
        return dict(self.permissions)

    @property
    def rate_key(self) -> str:
        """Whose budget a request spends: per user, per installation, per App."""
        if self.kind == "installation":
            return f"installation:{self.installation_id}"
        if self.kind == "app":
            return f"app:{self.app_id}"
        return f"user:{(self.login or '').lower()}"


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
    chunk, headers = page_of(request, items)
    return json_response(chunk, headers=headers)


def paginate_object(request: Request, items: list[Any], key: str, fields: Json) -> Response:
    """A paged list wrapped in an object (`{"total_count", key: [...]}`), as check runs are."""
    chunk, headers = page_of(request, items)
    return json_response({**fields, "total_count": len(items), key: chunk}, headers=headers)


def page_of(request: Request, items: list[Any]) -> tuple[list[Any], dict[str, str] | None]:
    """The requested page and its `Link` header: `per_page` 30 by default, at most 100.
    https://docs.github.com/en/rest/using-the-rest-api/using-pagination-in-the-rest-api"""
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
    return chunk, ({"Link": ", ".join(links)} if links else None)


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
    """What the sandbox answered, in order: `{"method", "path", "query", "status",
    "counted", "identity"}`; `counted` says whether the request spent rate limit."""

    entries: list[dict[str, Any]] = field(default_factory=list)


def require_record(record: Record | None) -> Record:
    if record is None:
        raise not_found()
    return record
