"""Authentication: user tokens, GitHub App JWTs, and installation tokens.

A JWT (RS256, signed with the app's private key, `iss` = app id) authenticates as the
app; exchanging it at `/app/installations/{id}/access_tokens` gives a token that acts as
the bot user `<slug>[bot]` on the installation's repositories, until `expires_at`.
"""

from __future__ import annotations

import functools
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from promobot_sandbox.errors import SeedError
from promobot_sandbox.github import permissions
from promobot_sandbox.github.core import ApiError, Identity, now
from promobot_sandbox.github.sandbox import Sandbox
from promobot_sandbox.github.store import Record

if TYPE_CHECKING:
    from promobot_sandbox.github.seed_models import SeedApp

TOKEN_LIFETIME = timedelta(hours=1)
# GitHub refuses app JWTs that live longer than ten minutes.
MAX_JWT_LIFETIME = 600
CLOCK_LEEWAY = 60


@functools.lru_cache(maxsize=16)
def _public_key_pem(private_pem: bytes) -> bytes:
    """The public half of an App's key. Parsing an RSA key checks it (about 30 ms of CPU);
    sandboxes seeded with the same key parse it once."""
    key = serialization.load_pem_private_key(private_pem, password=None)
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def bot_login(slug: str) -> str:
    return f"{slug}[bot]"


def app_permissions(app: SeedApp) -> dict[str, str]:
    """The App's permissions; any repository permission brings `metadata: read` with it,
    as GitHub sets it.
    https://docs.github.com/en/apps/creating-github-apps/registering-a-github-app/choosing-permissions-for-a-github-app
    """
    granted: dict[str, str] = dict(app.permissions)
    if granted and "metadata" not in granted:
        granted["metadata"] = "read"
    return granted


def ensure_app(sandbox: Sandbox, app: SeedApp, base_dir: Path) -> None:
    """Add the App when missing; its permissions, webhook and limit follow the seed."""
    existing = sandbox.store.find_one("app", key=str(app.id))
    if existing is not None:
        existing.update(
            permissions=app_permissions(app),
            rate_limit=app.rate_limit,
            token_ttl_seconds=app.token_ttl_seconds,
        )
        sandbox.store.update("app", existing)
    else:
        public = _public_key_pem(_private_key_pem(sandbox, app, base_dir))
        sandbox.store.insert(
            "app",
            {
                "app_id": app.id,
                "slug": app.slug,
                "name": app.name or app.slug,
                "owner": app.owner,
                "public_key": public.decode(),
                "token_ttl_seconds": app.token_ttl_seconds,
                "permissions": app_permissions(app),
                "rate_limit": app.rate_limit,
                "created_at": now(),
            },
            key=str(app.id),
        )
    if sandbox.user(bot_login(app.slug)) is None:
        bot = sandbox.store.insert(
            "user",
            {
                "login": bot_login(app.slug),
                "type": "Bot",
                "site_admin": False,
                "name": bot_login(app.slug),
            },
            key=bot_login(app.slug).lower(),
        )
        # The address GitHub gives an App's bot user: `<user id>+<slug>[bot]@users.noreply…`.
        # https://docs.github.com/en/account-and-profile/setting-up-and-managing-your-personal-account-on-github/managing-email-preferences/setting-your-commit-email-address
        bot["email"] = f"{bot['id']}+{bot_login(app.slug)}@users.noreply.github.com"
        sandbox.store.update("user", bot)
    _ensure_app_hook(sandbox, app)
    for installation in app.installations:
        if sandbox.store.find_one("installation", key=str(installation.id)) is None:
            sandbox.store.insert(
                "installation",
                {
                    "installation_id": installation.id,
                    "app_id": app.id,
                    "account": installation.account,
                    "repositories": installation.repositories,
                    "created_at": now(),
                },
                key=str(installation.id),
            )


def _ensure_app_hook(sandbox: Sandbox, app: SeedApp) -> None:
    """The App's one webhook, scoped `app:<id>`: it hears every installed repository.
    https://docs.github.com/en/webhooks/types-of-webhooks#github-app-webhooks"""
    scope = f"app:{app.id}"
    existing = sandbox.store.find_one("hook", scope=scope)
    if app.webhook is None:
        if existing is not None:
            sandbox.store.delete("hook", existing["id"])
        return
    granted = app_permissions(app)
    for event in app.webhook.events:
        if event != "repository_dispatch" and event not in permissions.EVENT_PERMISSIONS:
            # An App subscribes to events by name; it has no wildcard.
            raise SeedError(
                f"app {app.slug}: {event!r} is not a webhook event an App can subscribe to",
                hint="list the events by name, for example [pull_request, push]",
            )
        if event != "repository_dispatch" and not permissions.may_receive(granted, event):
            needed = " or ".join(permissions.EVENT_PERMISSIONS[event])
            raise SeedError(
                f"app {app.slug}: the webhook event {event!r} needs the {needed} permission",
                hint="add the permission under the app's `permissions:` or drop the event",
            )
    fields = {
        "url": app.webhook.url,
        "secret": app.webhook.secret,
        "events": list(app.webhook.events),
        "content_type": "json",
        "active": app.webhook.active,
        "app_id": app.id,
    }
    if existing is None:
        sandbox.store.insert("hook", {**fields, "created_at": now()}, scope=scope, key=app.id)
    else:
        sandbox.store.update("hook", {**existing, **fields})


def _private_key_pem(sandbox: Sandbox, app: SeedApp, base_dir: Path) -> bytes:
    if app.private_key is not None:
        path = base_dir / app.private_key
        try:
            return path.read_bytes()
        except OSError as error:
            raise SeedError(f"app {app.slug}: cannot read private key {path}: {error}") from error
    path = sandbox.data_dir / "apps" / f"{app.slug}.pem"
    if path.exists():
        return path.read_bytes()
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pem)
    path.chmod(0o600)
    return pem


def identify(sandbox: Sandbox, authorization: str | None) -> Identity:
    """The caller behind an `Authorization` header; 401 in GitHub's words otherwise."""
    if not authorization:
        raise ApiError(401, "Requires authentication")
    scheme, _, credential = authorization.strip().partition(" ")
    credential = credential.strip()
    if scheme.lower() not in ("token", "bearer") or not credential:
        raise ApiError(401, "Bad credentials")
    if scheme.lower() == "bearer" and credential.count(".") == 2:
        return Identity(kind="app", login=None, app_id=_verify_jwt(sandbox, credential)["app_id"])
    token = sandbox.store.find_one("token", key=credential)
    if token is None:
        raise ApiError(401, "Bad credentials")
    expires_at = token.get("expires_at")
    if expires_at and datetime.fromisoformat(expires_at.replace("Z", "+00:00")) <= datetime.now(
        UTC
    ):
        raise ApiError(401, "Bad credentials")
    if token.get("installation_id") is not None:
        granted = token.get("permissions")
        if granted is None:
            app = sandbox.store.find_one("app", key=str(token.get("app_id"))) or {}
            granted = app.get("permissions") or {}
        return Identity(
            "installation",
            token["login"],
            token.get("app_id"),
            token["installation_id"],
            tuple(sorted(granted.items())),
        )
    return Identity("user", token["login"])


def _verify_jwt(sandbox: Sandbox, credential: str) -> Record:
    try:
        claims: dict[str, Any] = jwt.decode(credential, options={"verify_signature": False})
        app = sandbox.store.find_one("app", key=str(claims.get("iss")))
        if app is None:
            raise ApiError(401, "Integration not found")
        verified = jwt.decode(
            credential,
            app["public_key"],
            algorithms=["RS256"],
            leeway=CLOCK_LEEWAY,
            options={"require": ["iat", "exp", "iss"]},
        )
    except jwt.ExpiredSignatureError as error:
        raise ApiError(
            401,
            "'Expiration time' claim ('exp') must be a numeric value representing the future "
            "time at which the assertion expires",
        ) from error
    except jwt.PyJWTError as error:
        raise ApiError(401, f"A JSON web token could not be decoded ({error})") from error
    if int(verified["exp"]) - int(verified["iat"]) > MAX_JWT_LIFETIME + CLOCK_LEEWAY:
        raise ApiError(401, "'Expiration time' claim ('exp') is too far in the future")
    return app


def token_permissions(app: Record, requested: Any) -> dict[str, str]:
    """What a new installation token may do: the App's permissions, or the subset the
    request names (422 for more than the App has).
    https://docs.github.com/en/rest/apps/apps#create-an-installation-access-token-for-an-app"""
    granted: dict[str, str] = dict(app.get("permissions") or {})
    if not requested:
        return granted
    if not isinstance(requested, dict) or any(
        not isinstance(level, str) or not permissions.has_level(granted.get(name), level)
        for name, level in requested.items()
    ):
        raise ApiError(422, "The permissions requested are not granted to this installation.")
    narrowed = {str(name): str(level) for name, level in requested.items()}
    if "metadata" in granted:
        narrowed.setdefault("metadata", "read")
    return narrowed


def issue_installation_token(
    sandbox: Sandbox, app: Record, installation: Record, granted: dict[str, str]
) -> Record:
    token = "ghs_" + secrets.token_hex(18)
    ttl = app.get("token_ttl_seconds")
    lifetime = TOKEN_LIFETIME if ttl is None else timedelta(seconds=ttl)
    expires = (datetime.now(UTC) + lifetime).strftime("%Y-%m-%dT%H:%M:%SZ")
    return sandbox.store.insert(
        "token",
        {
            "login": bot_login(app["slug"]),
            "expires_at": expires,
            "installation_id": installation["installation_id"],
            "app_id": app["app_id"],
            "token": token,
            "permissions": granted,
        },
        key=token,
    )
