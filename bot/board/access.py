"""Who may see the board: everyone, or whoever shows `PROMOBOT_BOARD_TOKEN`.

The token comes as `Authorization: Bearer TOKEN` (scripts) or through the login form,
which sets a cookie. The cookie holds a keyed digest of the token, not the token, and
every comparison takes the same time whatever the input (`hmac.compare_digest`).
"""

from __future__ import annotations

import hashlib
import hmac

from pydantic import SecretStr

COOKIE = "promobot_board"
COOKIE_MAX_AGE_SECONDS = 12 * 3600
_SESSION = b"promobot board session v1"


class BoardAccess:
    """Checks requests against the board's token; with no token, everyone may look."""

    def __init__(self, token: SecretStr | None) -> None:
        self._token = None if token is None else token.get_secret_value().encode()

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
        return cookie is not None and hmac.compare_digest(
            cookie.encode(), self.cookie_value().encode()
        )

    def is_token(self, given: str) -> bool:
        """Whether `given` is the token (constant time)."""
        if self._token is None:
            return True
        return hmac.compare_digest(given.encode(), self._token)

    def cookie_value(self) -> str:
        """What the login cookie holds: a digest keyed by the token."""
        return hmac.new(self._token or b"", _SESSION, hashlib.sha256).hexdigest()
