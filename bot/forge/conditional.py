"""Conditional requests below PyGithub: GETs revalidated with `If-None-Match`.

GitHub answers a GET whose `ETag` still matches with 304 and no body, and a 304 does
not count against the rate limit; the cache then serves the body it kept. Entries are
keyed by the URL, the `Accept` header and a digest of the `Authorization` header: an
ETag is valid only for the credentials it was given to (an installation token renews
hourly, and then the first read of each URL is a full one again). The cache is bounded
(least recently used entries go first) and safe to share between threads.
https://docs.github.com/en/rest/using-the-rest-api/best-practices-for-using-the-rest-api#use-conditional-requests-if-appropriate

The adapter also writes the request's method and path into every error answer
(`x-promobot-request`), so that a refusal can name the permission the endpoint needs:
PyGithub's exceptions carry the answer's headers but not the request.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any

import requests
from github import GithubException
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict

REQUEST_HEADER = "x-promobot-request"
MAX_BODY_BYTES = 1_000_000
MAX_TOTAL_BYTES = 32_000_000
# Headers of the 304 that describe the answer as it is now, not the body.
FRESH_HEADERS = ("date", "etag", "last-modified", "x-github-request-id")


@dataclass(frozen=True)
class Entry:
    """A kept answer: its validator, headers and body."""

    etag: str
    headers: Mapping[str, str]
    body: bytes


class ConditionalCache:
    """ETags and bodies of GET answers, least recently used first out, within `max_entries`
    and `max_bytes` of bodies."""

    def __init__(self, max_entries: int, max_bytes: int = MAX_TOTAL_BYTES) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._entries: OrderedDict[str, Entry] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = 0

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def get(self, key: str) -> Entry | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
            return entry

    def put(self, key: str, entry: Entry) -> None:
        """Keep `entry` (replacing the one under `key`); one too large is not kept."""
        with self._lock:
            self._remove(key)
            too_large = len(entry.body) > min(self.max_bytes, MAX_BODY_BYTES)
            if self.max_entries <= 0 or too_large:
                return
            self._entries[key] = entry
            self._bytes += len(entry.body)
            while len(self._entries) > self.max_entries or self._bytes > self.max_bytes:
                self._remove(next(iter(self._entries)))

    def discard(self, key: str) -> None:
        with self._lock:
            self._remove(key)

    def _remove(self, key: str) -> None:
        gone = self._entries.pop(key, None)
        if gone is not None:
            self._bytes -= len(gone.body)

    def count_hit(self) -> None:
        with self._lock:
            self.hits += 1


def cache_key(request: requests.PreparedRequest) -> str:
    """URL, `Accept`, and whose credentials: a digest, never the token itself."""
    headers = request.headers
    credentials = hashlib.sha256(str(headers.get("Authorization", "")).encode()).hexdigest()
    url = request.url if isinstance(request.url, str) else ""
    accept = str(headers.get("Accept", ""))
    return f"{url}\0{accept}\0{credentials}"


class ConditionalAdapter(HTTPAdapter):
    """`requests`' transport adapter with the conditional cache in front of it."""

    def __init__(self, cache: ConditionalCache, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.cache = cache

    def send(  # type: ignore[override]  # the keywords requests passes through unchanged
        self, request: requests.PreparedRequest, **kwargs: Any
    ) -> requests.Response:
        try:
            return self._labelled(self._send(request, **kwargs), request)
        except GithubException as error:
            # PyGithub's retry raises some refusals (a 403 that is no rate limit) itself.
            if isinstance(error.headers, MutableMapping):
                error.headers[REQUEST_HEADER] = _label(request)
            raise

    def _send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        if (
            request.method != "GET"
            or "If-None-Match" in request.headers
            or kwargs.get("stream")
            or self.cache.max_entries <= 0
        ):
            return super().send(request, **kwargs)
        key = cache_key(request)
        kept = self.cache.get(key)
        if kept is not None:
            request.headers["If-None-Match"] = kept.etag
        response = super().send(request, **kwargs)
        if response.status_code == 304 and kept is not None:
            self.cache.count_hit()
            return _from_cache(response, kept)
        if response.status_code == 200 and response.headers.get("ETag"):
            entry = Entry(response.headers["ETag"], dict(response.headers), response.content)
            self.cache.put(key, entry)
        elif kept is not None:
            self.cache.discard(key)
        return response

    @staticmethod
    def _labelled(
        response: requests.Response, request: requests.PreparedRequest
    ) -> requests.Response:
        if response.status_code >= 400:
            response.headers[REQUEST_HEADER] = _label(request)
        return response


def _label(request: requests.PreparedRequest) -> str:
    """`METHOD /path`, without the query."""
    return f"{request.method} {(request.path_url or '').partition('?')[0]}"


def _from_cache(not_modified: requests.Response, kept: Entry) -> requests.Response:
    """The kept answer as a 200, with the 304's current headers (rate limits, date)."""
    served = requests.Response()
    headers = CaseInsensitiveDict(kept.headers)
    for name, value in not_modified.headers.items():
        if name.lower().startswith("x-ratelimit-") or name.lower() in FRESH_HEADERS:
            headers[name] = value
    served.status_code = 200
    served.headers = headers
    # How `requests` holds a body it has read.
    served._content = kept.body
    served._content_consumed = True
    served.encoding = "utf-8"
    served.url = not_modified.url
    served.request = not_modified.request
    served.reason = "OK (not modified)"
    served.elapsed = not_modified.elapsed
    not_modified.close()
    return served
