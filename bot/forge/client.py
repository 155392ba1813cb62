"""Build the PyGithub client: authentication, the retry policy and conditional requests.

Retries happen below PyGithub, in urllib3, so every call the adapter makes is
retried the same way: bounded, with exponential backoff, on 5xx, on 429 and on
403 rate limits, honouring `Retry-After` and `x-ratelimit-reset`. The POSTs that
create a comment or a deployment are the exception: a 5xx or a lost answer may hide
a success, so they are not repeated blindly (see `bot.forge.idempotent`).
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Any, Self

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from github import Auth, Github, GithubIntegration, GithubRetry
from github.GithubException import GithubException, RateLimitExceededExceedsMaxWait
from github.Requester import HTTPRequestsConnectionClass, HTTPSRequestsConnectionClass
from pydantic import SecretStr
from urllib3.connectionpool import ConnectionPool
from urllib3.exceptions import MaxRetryError, ProtocolError, ReadTimeoutError, ResponseError
from urllib3.response import HTTPResponse

from bot.errors import ForgeError, UserInputError
from bot.forge.conditional import ConditionalAdapter, ConditionalCache
from bot.forge.gitauth import TOKEN_USERNAME
from bot.forge.settings import GitHubSettings
from bot.forge.values import GitCredentials

USER_AGENT = "promobot"
RETRY_STATUSES = (429, *range(500, 600))
RETRY_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"})
# Creations GitHub does not deduplicate, whose duplicates people would see.
UNREPEATABLE_POSTS = (
    re.compile(r"/issues/\d+/comments$"),
    re.compile(r"/deployments$"),
)


def is_unrepeatable(method: str | None, url: str | None) -> bool:
    """A POST that must not be sent twice blindly: it creates a comment or a deployment."""
    path = (url or "").partition("?")[0]
    return (method or "").upper() == "POST" and any(p.search(path) for p in UNREPEATABLE_POSTS)


def seconds_until_reset(reset_header: str | None, now: dt.datetime) -> float | None:
    """Seconds from `now` until the epoch second in `x-ratelimit-reset`, or None."""
    if reset_header is None or not reset_header.strip().isdigit():
        return None
    reset = dt.datetime.fromtimestamp(int(reset_header), dt.UTC)
    return max(0.0, (reset - now).total_seconds()) + 1.0


class ForgeRetry(GithubRetry):
    """PyGithub's retry, extended to 429 answers that carry only `x-ratelimit-reset`.

    PyGithub handles 403 rate limits (secondary with `Retry-After`, primary with
    `X-RateLimit-Reset`) and urllib3 honours `Retry-After` on 429; a 429 without
    `Retry-After` would otherwise be retried on the plain backoff, too early.
    """

    forced_backoff: float | None = None

    def new(self, **kw: Any) -> Self:
        fresh = super().new(**kw)
        fresh.forced_backoff = None
        return fresh

    def get_backoff_time(self) -> float:
        if self.forced_backoff is not None:
            return self.forced_backoff
        return float(super().get_backoff_time())

    def increment(  # type: ignore[override]  # GithubRetry narrows the response type
        self,
        method: str | None = None,
        url: str | None = None,
        response: HTTPResponse | None = None,
        error: Exception | None = None,
        _pool: ConnectionPool | None = None,
        _stacktrace: TracebackType | None = None,
    ) -> ForgeRetry:
        if is_unrepeatable(method, url):
            self._refuse_ambiguous(url, response, error, _pool, _stacktrace)
        try:
            return self._next(method, url, response, error, _pool, _stacktrace)
        except GithubException:
            # urllib3 drains the connection only around MaxRetryError; without this the
            # socket of a refused answer would leak.
            if response is not None:
                response.drain_conn()
                response.release_conn()
            raise

    def _refuse_ambiguous(
        self,
        url: str | None,
        response: HTTPResponse | None,
        error: Exception | None,
        pool: ConnectionPool | None,
        stacktrace: TracebackType | None,
    ) -> None:
        """A 5xx or a lost answer may hide a creation that went through: hand it back."""
        if response is not None and response.status >= 500 and pool is not None:
            raise MaxRetryError(pool, url or "", ResponseError(f"HTTP {response.status}"))
        if isinstance(error, (ReadTimeoutError, ProtocolError)):
            raise error.with_traceback(stacktrace)

    def _next(
        self,
        method: str | None,
        url: str | None,
        response: HTTPResponse | None,
        error: Exception | None,
        pool: ConnectionPool | None,
        stacktrace: TracebackType | None,
    ) -> ForgeRetry:
        retry = super().increment(method, url, response, error, pool, stacktrace)
        assert isinstance(retry, ForgeRetry)
        if response is None or response.status != 429 or "Retry-After" in response.headers:
            return retry
        wait = seconds_until_reset(
            response.headers.get("x-ratelimit-reset"), dt.datetime.now(dt.UTC)
        )
        if wait is None:
            return retry
        if self.max_rate_limit_wait is not None and wait > self.max_rate_limit_wait:
            raise RateLimitExceededExceedsMaxWait(
                429, {"message": "rate limit reset too far away"}, dict(response.headers), wait=wait
            )
        retry.forced_backoff = max(wait, float(super(ForgeRetry, retry).get_backoff_time()))
        return retry


def make_retry(settings: GitHubSettings) -> ForgeRetry:
    """The bounded retry policy the settings describe."""
    return ForgeRetry(
        total=settings.retry_total,
        backoff_factor=settings.retry_backoff_seconds,
        backoff_max=float(settings.max_rate_limit_wait_seconds),
        status_forcelist=list(RETRY_STATUSES),
        allowed_methods=RETRY_METHODS,
        raise_on_status=False,
        secondary_rate_wait=settings.secondary_rate_wait_seconds,
        max_rate_limit_wait=float(settings.max_rate_limit_wait_seconds),
        retry_after_max=settings.max_rate_limit_wait_seconds,
    )


def read_private_key(settings: GitHubSettings) -> str:
    """The App's PEM private key, from the settings or the file they name."""
    if settings.private_key is not None:
        return settings.private_key.get_secret_value()
    path = settings.private_key_path
    if path is None:
        raise UserInputError(
            "github: App authentication needs a private key",
            hint="set `github.private_key_path` to the App's .pem file",
        )
    try:
        return path.read_text()
    except OSError as error:
        raise UserInputError(
            f"github: cannot read the App private key {path}: {error.strerror}",
            hint="download a private key in the App's settings and point `private_key_path` at it",
        ) from error


class InstallationAuth(Auth.Auth):
    """A GitHub App installation's token, renewed `margin` before it expires.

    PyGithub's own `AppInstallationAuth` renews 20 s before expiry and opens a
    client nobody can close; this one fetches tokens through a `GithubIntegration`
    the adapter owns, and renews early enough for a request and its retries. Without
    an installation id it asks GitHub which installation holds `repository`.
    """

    def __init__(
        self,
        integration: GithubIntegration,
        installation_id: int | None,
        margin: dt.timedelta,
        repository: str | None = None,
    ) -> None:
        self.integration = integration
        self._installation_id = installation_id
        self._repository = repository
        self._margin = margin
        self._current: tuple[str, dt.datetime] | None = None
        self._lock = threading.Lock()

    @property
    def token_type(self) -> str:
        return "token"

    @property
    def installation_id(self) -> int:
        """The installation, looked up once for the repository when not configured."""
        if self._installation_id is None:
            if self._repository is None:
                raise UserInputError(
                    "github: an App installation needs `installation_id` or a repository",
                    hint="set `github.installation_id`, or name the repository the adapter serves",
                )
            owner, _, name = self._repository.partition("/")
            self._installation_id = int(self.integration.get_repo_installation(owner, name).id)
        return self._installation_id

    @property
    def token(self) -> str:
        with self._lock:
            now = dt.datetime.now(dt.UTC)
            if self._current is None or self._current[1] - self._margin <= now:
                grant = self.integration.get_access_token(self.installation_id)
                self._current = (grant.token, grant.expires_at)
            return self._current[0]

    @property
    def _masked_token(self) -> str:
        return "token (installation token removed)"

    def close(self) -> None:
        """Close the connections used to fetch tokens."""
        self.integration.close()


def installation_permissions(auth: Auth.Auth) -> dict[str, str]:
    """The permissions the installation was granted, read with the App's JWT.
    https://docs.github.com/en/rest/apps/apps#get-an-installation-for-the-authenticated-app
    """
    if not isinstance(auth, InstallationAuth):
        raise ForgeError(
            "a token has no installation permissions to read",
            hint="`promobot doctor` checks App installations; a token can do what its user can",
        )
    installation = auth.integration.get_app_installation(auth.installation_id)
    granted = installation.raw_data.get("permissions") or {}
    return {str(name): str(level) for name, level in granted.items()}


def git_credentials(settings: GitHubSettings, auth: Auth.Auth) -> GitCredentials:
    """The current installation token (renewed when due), or the configured token."""
    if isinstance(auth, InstallationAuth):
        token = auth.token
    else:
        assert settings.token is not None
        token = settings.token.get_secret_value()
    return GitCredentials(username=TOKEN_USERNAME, password=SecretStr(token))


@functools.lru_cache(maxsize=4)
def _app_key(pem: str) -> rsa.RSAPrivateKey:
    """The App's RSA key, parsed and checked once (about 30 ms of CPU): PyGithub would
    parse the PEM text again for every JSON web token it signs."""
    try:
        key = serialization.load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError) as error:
        raise UserInputError(
            "github: the App private key is not an unencrypted PEM private key",
            hint="download a private key in the App's settings and use the .pem file as it is",
        ) from error
    if not isinstance(key, rsa.RSAPrivateKey):
        raise UserInputError(
            "github: the App private key is not an RSA key",
            hint="GitHub Apps sign with RS256: download a private key in the App's settings",
        )
    return key


def app_signer(pem: str) -> Callable[[dict[str, Any]], str]:
    """Signs the App's JSON web tokens (RS256) with its private key.
    https://docs.github.com/en/apps/creating-github-apps/authenticating-with-a-github-app/generating-a-json-web-token-jwt-for-a-github-app
    """
    key = _app_key(pem)

    def sign(payload: dict[str, Any]) -> str:
        return jwt.encode(payload, key=key, algorithm="RS256")

    return sign


def make_integration(settings: GitHubSettings) -> GithubIntegration:
    """The App itself, authenticated with a JSON web token signed by its private key."""
    assert settings.app_id is not None
    return GithubIntegration(
        auth=Auth.AppAuth(settings.app_id, sign_func=app_signer(read_private_key(settings))),
        base_url=settings.base_url.rstrip("/"),
        timeout=settings.timeout_seconds,
        user_agent=USER_AGENT,
        retry=make_retry(settings),
        seconds_between_requests=None,
        seconds_between_writes=None,
    )


def make_auth(
    settings: GitHubSettings,
    *,
    installation_id: int | None = None,
    repository: str | None = None,
) -> Auth.Auth:
    """A token, or an App installation whose token is renewed before it expires."""
    if settings.token is not None:
        return Auth.Token(settings.token.get_secret_value())
    margin = dt.timedelta(seconds=settings.token_refresh_margin_seconds)
    return InstallationAuth(
        make_integration(settings),
        installation_id or settings.installation_id,
        margin,
        repository or settings.repository,
    )


def make_github(
    settings: GitHubSettings, auth: Auth.Auth, cache: ConditionalCache | None = None
) -> Github:
    """A lazy PyGithub client: objects are fetched only when a field is read."""
    writes = settings.seconds_between_writes
    gh = Github(
        auth=auth,
        base_url=settings.base_url.rstrip("/"),
        timeout=settings.timeout_seconds,
        user_agent=USER_AGENT,
        per_page=settings.per_page,
        retry=make_retry(settings),
        seconds_between_requests=None,
        seconds_between_writes=writes if writes > 0 else None,
        lazy=True,
    )
    if cache is not None:
        mount_cache(gh, cache)
    return gh


ConnectionClass = type[HTTPRequestsConnectionClass] | type[HTTPSRequestsConnectionClass]
CONNECTION_CLASS_ATTRIBUTE = "_Requester__connectionClass"


def mount_cache(gh: Github, cache: ConditionalCache) -> None:
    """Put the conditional cache under PyGithub's `requests` session.

    PyGithub opens its session inside a connection object it builds on first use, from
    a class each requester holds; a subclass of that class mounts the cache's adapter
    on the session it opens, so every request of this client goes through it.
    """
    requester = gh.requester
    base: ConnectionClass | None = getattr(requester, CONNECTION_CLASS_ATTRIBUTE, None)
    if base is None:
        raise RuntimeError("this PyGithub version builds its connections differently")

    class ConditionalConnection(base):  # type: ignore[valid-type,misc]  # chosen at runtime
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.adapter = ConditionalAdapter(
                cache,
                max_retries=self.retry,
                pool_connections=self.pool_size,
                pool_maxsize=self.pool_size,
            )
            self.session.mount(f"{self.protocol}://", self.adapter)

    setattr(requester, CONNECTION_CLASS_ATTRIBUTE, ConditionalConnection)
