"""Primary rate limits, per token owner, as GitHub counts them.

Every authenticated REST request spends one unit of its owner's hourly budget: a user's
(all their tokens together), an App installation's, or the App's own (JWT). The budget
resets `window_seconds` after its first request. Answers carry `X-RateLimit-Limit`,
`-Remaining`, `-Used`, `-Reset` and `-Resource`; a spent budget is answered 403 (or 429)
with `X-RateLimit-Remaining: 0` until the reset. `GET /rate_limit` and conditional
requests answered 304 spend nothing.
https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from promobot_sandbox.github.core import ApiError, Identity

if TYPE_CHECKING:
    from promobot_sandbox.github.sandbox import Sandbox

RATE_LIMIT_DOCS = (
    "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-primary-rate-limits"
)
DEFAULT_LIMIT = 5000
DEFAULT_WINDOW = 3600


@dataclass
class Budget:
    """One owner's budget for one resource (`core` for REST, `graphql`)."""

    limit: int
    used: int
    reset: int
    resource: str

    @property
    def remaining(self) -> int:
        return max(self.limit - self.used, 0)

    @property
    def spent(self) -> bool:
        return self.used >= self.limit

    def headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Used": str(self.used),
            "X-RateLimit-Reset": str(self.reset),
            "X-RateLimit-Resource": self.resource,
        }

    def json(self) -> dict[str, int]:
        return {
            "limit": self.limit,
            "used": self.used,
            "remaining": self.remaining,
            "reset": self.reset,
        }


class RateLimiter:
    """Budgets in memory, keyed by owner and resource; a window opens at its first use."""

    def __init__(self) -> None:
        self._budgets: dict[tuple[str, str], Budget] = {}

    def budget(self, key: str, resource: str, limit: int, window: int) -> Budget:
        current = time.time()
        found = self._budgets.get((key, resource))
        if found is None or current >= found.reset:
            found = Budget(limit, 0, int(current) + window, resource)
            self._budgets[(key, resource)] = found
        found.limit = limit
        return found


def resource_of(path: str) -> str:
    return "graphql" if path.rstrip("/").endswith("/graphql") else "core"


def limit_for(sandbox: Sandbox, who: Identity) -> tuple[int, int]:
    """(requests per window, window seconds) for the caller, from the seed."""
    limits: dict[str, Any] = sandbox.settings().get("rate_limits") or {}
    window = int(limits.get("window_seconds") or DEFAULT_WINDOW)
    if who.kind == "user":
        own = (sandbox.user(who.login or "") or {}).get("rate_limit")
        return int(own or limits.get("users") or DEFAULT_LIMIT), window
    app = sandbox.store.find_one("app", key=str(who.app_id)) or {}
    return int(app.get("rate_limit") or limits.get("installations") or DEFAULT_LIMIT), window


def budget_for(sandbox: Sandbox, who: Identity, resource: str = "core") -> Budget:
    limit, window = limit_for(sandbox, who)
    return sandbox.rate_limiter.budget(who.rate_key, resource, limit, window)


def exceeded(sandbox: Sandbox, who: Identity, budget: Budget) -> ApiError:
    """GitHub's answer once the budget is spent: 403 (or 429) naming whose it was."""
    limits: dict[str, Any] = sandbox.settings().get("rate_limits") or {}
    status = int(limits.get("exceeded_status") or 403)
    if who.kind == "installation":
        owner = f"installation ID {who.installation_id}"
    elif who.kind == "app":
        owner = f"app ID {who.app_id}"
    else:
        owner = f"user ID {(sandbox.user(who.login or '') or {}).get('id', 0)}"
    return ApiError(
        status,
        f"API rate limit exceeded for {owner}.",
        headers=budget.headers(),
        docs=RATE_LIMIT_DOCS,
    )


def rate_limit_body(sandbox: Sandbox, who: Identity) -> dict[str, Any]:
    """`GET /rate_limit`: the caller's budgets."""
    core = budget_for(sandbox, who).json()
    graphql = budget_for(sandbox, who, "graphql").json()
    search = {"limit": 30, "used": 0, "remaining": 30, "reset": int(time.time()) + 60}
    return {"resources": {"core": core, "search": search, "graphql": graphql}, "rate": core}
