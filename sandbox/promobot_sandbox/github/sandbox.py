"""The sandbox as one object: state, repositories on disk, permissions, event fan-out."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from promobot_sandbox.github.core import (
    ApiError,
    Fault,
    Identity,
    Permission,
    RequestLog,
    best_permission,
    has_permission,
    not_found,
)
from promobot_sandbox.github.gitrepo import GitRepo
from promobot_sandbox.github.permissions import may_receive
from promobot_sandbox.github.ratelimit import RateLimiter
from promobot_sandbox.github.render_base import Json, Links, node_id, repository, user
from promobot_sandbox.github.store import Record, Store
from promobot_sandbox.github.webhooks import Dispatcher, is_subscribed

ResponseCheck = Callable[[str, str, int, bytes], list[str]]
PayloadCheck = Callable[[str, Any], list[str]]


@dataclass
class Checks:
    """Optional contract checks (tests switch them on); problems are collected here."""

    response: ResponseCheck | None = None
    payload: PayloadCheck | None = None

    def __post_init__(self) -> None:
        self.problems: list[str] = []
        self.checked_responses = 0
        self.checked_payloads = 0


class Sandbox:
    """Everything a request handler needs; one per app."""

    def __init__(self, data_dir: Path, checks: Checks | None = None) -> None:
        self.data_dir = data_dir
        data_dir.mkdir(parents=True, exist_ok=True)
        self.store = Store(data_dir / "sandbox.db")
        self.repos_dir = data_dir / "repos"
        self.checks = checks or Checks()
        self.request_log = RequestLog()
        self.faults: list[Fault] = []
        self.rate_limiter = RateLimiter()
        self.hook_secret = _read_or_create(data_dir / "hook-secret")
        self.dispatcher = Dispatcher(self.store, self.checks)

    def close(self) -> None:
        self.dispatcher.stop()
        self.store.close()

    # --- lookups -------------------------------------------------------------------------

    def user(self, login: str) -> Record | None:
        return self.store.find_one("user", key=login.lower())

    def user_by_email(self, email: str) -> Record | None:
        """The seeded account a commit's e-mail belongs to (how GitHub links commits)."""
        for record in self.store.find("user"):
            if record.get("email", "").lower() == email.lower():
                return record
        return None

    def repo(self, owner: str, name: str) -> Record | None:
        return self.store.find_one("repo", key=f"{owner}/{name}".lower())

    def repo_path(self, full_name: str) -> Path:
        owner, name = full_name.split("/", 1)
        return self.repos_dir / owner / f"{name}.git"

    def git(self, repo: Record) -> GitRepo:
        return GitRepo(self.repo_path(repo["full_name"]))

    def render_user(self, links: Links, login: str) -> Json:
        record = self.user(login)
        if record is None:
            record = {"login": login, "id": 0, "type": "User"}
        return user(links, record)

    def render_repo(self, links: Links, repo: Record) -> Json:
        owner = self.user(repo["owner"]) or {"login": repo["owner"], "id": 0, "type": "User"}
        clone_url = self.repo_path(repo["full_name"]).resolve().as_uri()
        return repository(links, repo, owner, clone_url)

    # --- permissions ---------------------------------------------------------------------

    def permission(self, who: Identity, repo: Record) -> str | None:
        """The caller's permission on `repo`: read … admin, or None for no access."""
        if who.kind == "app":
            return None
        if who.kind == "installation":
            installation = self.store.find_one("installation", key=str(who.installation_id))
            if installation is None or not _installation_covers(installation, repo):
                return None
            return "write"
        login = who.login or ""
        account = self.user(login)
        if account is None:
            return None
        if account.get("site_admin") or repo["owner"].lower() == login.lower():
            return "admin"
        grants: list[str] = []
        collaborator = self.store.find_one(
            "collaborator", scope=repo["full_name"].lower(), key=login.lower()
        )
        if collaborator is not None:
            grants.append(collaborator["permission"])
        for team in self.store.find("team", scope=repo["owner"].lower()):
            if login.lower() in [m.lower() for m in team["members"] + team.get("maintainers", [])]:
                grants.append(team.get("repositories", {}).get(repo["full_name"].lower(), ""))
        org = self.user(repo["owner"])
        if org is not None and org["type"] == "Organization":
            if login.lower() in [a.lower() for a in org.get("admins", [])]:
                grants.append("admin")
            if login.lower() in [m.lower() for m in org.get("members", [])]:
                grants.append(org.get("default_permission", "read"))
        if not repo.get("private"):
            grants.append("read")
        return best_permission(grants)

    def require(self, who: Identity, owner: str, name: str, needed: Permission) -> Record:
        """The repository, when the caller may `needed` it; 404 when it may not even see it."""
        repo = self.repo(owner, name)
        if repo is None:
            raise not_found()
        actual = self.permission(who, repo)
        if actual is None:
            raise not_found()
        if not has_permission(actual, needed):
            if who.kind == "installation":
                raise ApiError(403, "Resource not accessible by integration")
            raise ApiError(
                403,
                f"Must have {needed} access to repository {repo['full_name']} "
                f"(your permission: {actual}).",
            )
        return repo

    def sees_org(self, who: Identity, org: str) -> bool:
        """Whether the caller may see an organisation's teams: its members and owners, and
        installations on it."""
        record = self.user(org)
        if record is None or record.get("type") != "Organization":
            return False
        if who.kind == "installation":
            installation = self.store.find_one("installation", key=str(who.installation_id))
            return installation is not None and installation["account"].lower() == org.lower()
        if who.kind != "user":
            return False
        account = self.user(who.login or "") or {}
        login = (who.login or "").lower()
        people = [m.lower() for m in record.get("members", []) + record.get("admins", [])]
        return bool(account.get("site_admin")) or login in people

    def plan_of(self, login: str) -> str:
        """The account's plan (`free` unless the seed says otherwise)."""
        return str((self.user(login) or {}).get("plan") or "free")

    def settings(self) -> Record:
        """Timing and limits from the seed (GitHub's defaults until one is applied)."""
        return self.store.find_one("settings", key="github") or {}

    def installations_of(self, repo: Record) -> list[Record]:
        """The App installations that cover `repo`."""
        return [i for i in self.store.find("installation") if _installation_covers(i, repo)]

    def author_association(self, login: str, repo: Record) -> str:
        if login.lower() == repo["owner"].lower():
            return "OWNER"
        if self.store.find_one("collaborator", scope=repo["full_name"].lower(), key=login.lower()):
            return "COLLABORATOR"
        org = self.user(repo["owner"])
        if org is not None and login.lower() in [
            m.lower() for m in org.get("members", []) + org.get("admins", [])
        ]:
            return "MEMBER"
        return "NONE"

    def next_number(self, repo: Record) -> int:
        repo["next_number"] = repo.get("next_number", 1) + 1
        self.store.update("repo", repo)
        return int(repo["next_number"]) - 1

    # --- events --------------------------------------------------------------------------

    def emit(self, repo: Record, event: str, payload: Json, *, apps_only: bool = False) -> None:
        """Queue a delivery to every active repository hook of `repo` subscribed to `event`,
        and to the webhook of every App installed on it that may receive the event, with
        `installation` added. Repository webhooks never carry `installation`.
        https://docs.github.com/en/webhooks/webhook-events-and-payloads#delivery-headers
        """
        targets: list[tuple[Record, Json]] = []
        if not apps_only:
            for hook in self.store.find("hook", scope=repo["full_name"].lower()):
                if is_subscribed(hook, event):
                    targets.append((hook, payload))
        for installation in self.installations_of(repo):
            app = self.store.find_one("app", key=str(installation["app_id"])) or {}
            app_hook = self.store.find_one("hook", scope=f"app:{installation['app_id']}")
            granted = app.get("permissions") or {}
            if app_hook is None or not app_hook.get("active", True):
                continue
            if not may_receive(granted, event):
                continue
            if event != "repository_dispatch" and event not in app_hook.get("events", []):
                continue
            iid = installation["installation_id"]
            stamped = {
                **payload,
                "installation": {"id": iid, "node_id": node_id("Installation", iid)},
            }
            targets.append((app_hook, stamped))
        if not targets and not apps_only:
            self.dispatcher.check(event, payload)
        self.dispatcher.emit(event, targets)


def _installation_covers(installation: Record, repo: Record) -> bool:
    if installation["account"].lower() != repo["owner"].lower():
        return False
    selected = installation.get("repositories")
    return selected is None or repo["name"].lower() in [r.lower() for r in selected]


def _read_or_create(path: Path) -> str:
    if path.exists():
        return path.read_text().strip()
    value = secrets.token_hex(16)
    path.write_text(value)
    return value
