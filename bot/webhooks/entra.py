"""Event Grid deliveries authenticated with a Microsoft Entra ID token.

An Event Grid subscription to a webhook "with Microsoft Entra authentication" sends
`Authorization: Bearer <token>`: a JWT signed by the tenant's keys, whose audience is
the application the subscription names (its id, or its `api://` URI). The bot checks
the signature against the tenant's published keys, the issuer, the audience and the
times; nothing else in the token is trusted.
https://learn.microsoft.com/en-us/azure/event-grid/secure-webhook-delivery
https://learn.microsoft.com/en-us/entra/identity-platform/access-tokens#validate-tokens
"""

from __future__ import annotations

import jwt

MAX_TOKEN_CHARS = 16_384
LEEWAY_SECONDS = 60


def jwks_url(tenant_id: str) -> str:
    """Where a tenant publishes its signing keys (the v2.0 discovery document's `jwks_uri`)."""
    return f"https://login.microsoftonline.com/{tenant_id}/discovery/v2.0/keys"


class EntraTokenCheck:
    """Checks `Authorization` headers against one tenant and one application."""

    def __init__(self, tenant_id: str, audience: str, keys_url: str | None = None) -> None:
        self._keys = jwt.PyJWKClient(keys_url or jwks_url(tenant_id), lifespan=3600, timeout=10)
        # Tokens come in v2.0 or v1.0 form, by the application's `accessTokenAcceptedVersion`.
        self._issuers = [
            f"https://login.microsoftonline.com/{tenant_id}/v2.0",
            f"https://sts.windows.net/{tenant_id}/",
        ]
        bare = audience.removeprefix("api://")
        self._audiences = [bare, f"api://{bare}"]

    def __call__(self, authorization: str | None) -> str | None:
        """None when the bearer token is valid, else why not (never the token itself)."""
        if not authorization:
            return "missing Authorization header"
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token:
            return "Authorization is not a bearer token"
        if len(token) > MAX_TOKEN_CHARS:
            return f"bearer token is longer than {MAX_TOKEN_CHARS} characters"
        try:
            key = self._keys.get_signing_key_from_jwt(token)
            jwt.decode(
                token,
                key.key,
                algorithms=["RS256"],
                audience=self._audiences,
                issuer=self._issuers,
                leeway=LEEWAY_SECONDS,
                options={"require": ["exp", "iat", "aud", "iss"]},
            )
        except jwt.PyJWKClientError as error:
            return f"the tenant's signing keys cannot be read: {error}"
        except jwt.PyJWTError as error:
            return f"bearer token refused: {error}"
        return None
