"""Who may see the board: everyone, or whoever shows `PROMOBOT_BOARD_TOKEN`.

The token comes as `Authorization: Bearer TOKEN` (scripts) or through the login form,
which sets a cookie. The cookie holds when it was issued and a digest of that time keyed
by the token, not the token: it is refused once older than `COOKIE_MAX_AGE_SECONDS`,
whatever the browser keeps, and every cookie dies with the token. Every comparison takes
the same time whatever the input (`hmac.compare_digest`).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable

from pydantic import SecretStr

COOKIE = "promobot_board"
COOKIE_MAX_AGE_SECONDS = 12 * 3600
_SESSION = b"promobot board session v1"


class BoardAccess:
    """Checks requests against the board's token; with no token, everyone may look."""

    def __init__(self, token: SecretStr | None, clock: Callable[[], float] = time.time) -> None:
        self._token = None if token is None else token.get_secret_value().encode()
        self._clock = clock

    @property
    def is_open(self) -> bool:
        """No token is set: the board asks for nothing."""
        return self._token is None

    def allows(self, authorization: str | None, cookie: str | None) -> bool:
        """Whether a request with these headers may see the board."""
        if self._token is None:
            return True
        scheme, _, given = (authorization or "").strip().partition(" ")
        if scheme.lower() == "bearer" and self.is_token(given.strip()):
            return True
        return cookie is not None and self._is_fresh_cookie(cookie)

    def is_token(self, given: str) -> bool:
        """Whether `given` is the token (constant time)."""
        if self._token is None:
            return True
        return hmac.compare_digest(given.encode(), self._token)

    def cookie_value(self, issued_at: int | None = None) -> str:
        """What the login cookie holds: `<issued at>.<digest of it keyed by the token>`."""
        issued = int(self._clock()) if issued_at is None else issued_at
        return f"{issued}.{self._digest(issued)}"

    def _digest(self, issued: int) -> str:
        message = _SESSION + b" " + str(issued).encode()
        return hmac.new(self._token or b"", message, hashlib.sha256).hexdigest()

    def _is_fresh_cookie(self, cookie: str) -> bool:
        issued, _, digest = cookie.partition(".")
        if not (issued.isascii() and issued.isdigit() and len(issued) <= 12):
            return False
        age = self._clock() - int(issued)
        if not -60 <= age <= COOKIE_MAX_AGE_SECONDS:
            return False
        return hmac.compare_digest(digest.encode(), self._digest(int(issued)).encode())
