"""Conditional requests: every successful GET answers an `ETag` (and `Last-Modified` when
the resource has an `updated_at`); a request sending `If-None-Match` or
`If-Modified-Since` that still matches is answered 304 without a body.
https://docs.github.com/en/rest/using-the-rest-api/best-practices-for-using-the-rest-api#use-conditional-requests-if-appropriate
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime

from starlette.datastructures import Headers


def etag(body: bytes, headers: Headers) -> str:
    """A weak validator of the body as this caller sees it: GitHub's answers vary with
    `Accept` and `Authorization`."""
    digest = hashlib.sha256(body)
    for name in ("accept", "authorization"):
        digest.update(b"\0" + headers.get(name, "").encode())
    return f'W/"{digest.hexdigest()[:40]}"'


def last_modified(body: bytes) -> str | None:
    """`Last-Modified` of a single resource with an `updated_at`, in HTTP's date format."""
    try:
        document = json.loads(body)
    except ValueError:
        return None
    stamp = document.get("updated_at") if isinstance(document, dict) else None
    if not isinstance(stamp, str):
        return None
    try:
        moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return None
    return format_datetime(moment.astimezone(UTC), usegmt=True)


def is_conditional(headers: Headers) -> bool:
    return "if-none-match" in headers or "if-modified-since" in headers


def not_modified(headers: Headers, tag: str, modified: str | None) -> bool:
    """Whether the client's copy is current (`If-None-Match` wins over `If-Modified-Since`)."""
    if "if-none-match" in headers:
        wanted = {t.strip().removeprefix("W/") for t in headers["if-none-match"].split(",")}
        return "*" in wanted or tag.removeprefix("W/") in wanted
    since = headers.get("if-modified-since")
    if since is None or modified is None:
        return False
    try:
        return parsedate_to_datetime(modified) <= parsedate_to_datetime(since)
    except (TypeError, ValueError):
        return False
