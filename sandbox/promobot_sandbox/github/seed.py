"""The seed file: who and what the sandbox starts with.

`apply_seed` only adds what is missing, so `--seed` on an existing data folder is safe:
users, tokens, repositories and hooks already there are left as they are.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from promobot_sandbox.errors import SeedError
from promobot_sandbox.github.apps import ensure_app
from promobot_sandbox.github.core import now
from promobot_sandbox.github.gitrepo import GitRepo, Person
from promobot_sandbox.github.sandbox import Sandbox
from promobot_sandbox.github.store import Record

PermissionName = Literal["read", "triage", "write", "maintain", "admin"]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SeedUser(_Model):
    login: str = Field(description="GitHub login, e.g. `alice`.")
    token: str | None = Field(
        default=None, description="API token that authenticates as this user."
    )
    site_admin: bool = Field(default=False, description="Site administrators may do anything.")
    name: str | None = Field(
        default=None, description="Display name, used for commits the sandbox makes."
    )
    email: str | None = Field(
        default=None, description="E-mail; commits with it are attributed to the user."
    )


class SeedOrg(_Model):
    login: str = Field(description="Organisation login, e.g. `acme`.")
    admins: list[str] = Field(
        default_factory=list, description="Logins with admin rights on every repo."
    )
    members: list[str] = Field(
        default_factory=list, description="Logins of the organisation's members."
    )
    default_permission: PermissionName = Field(
        default="read",
        description="Base permission members have on the organisation's repositories.",
    )


class SeedTeam(_Model):
    org: str = Field(description="Login of the organisation the team belongs to.")
    slug: str = Field(description="Team slug, as used in `/orgs/{org}/teams/{slug}`.")
    name: str | None = Field(default=None, description="Display name (defaults to the slug).")
    members: list[str] = Field(default_factory=list, description="Logins with the `member` role.")
    maintainers: list[str] = Field(
        default_factory=list, description="Logins with the `maintainer` role."
    )
    repositories: dict[str, PermissionName] = Field(
        default_factory=dict, description="Repository full name → permission the team grants."
    )


class SeedHook(_Model):
    url: str = Field(description="Where deliveries are POSTed.")
    secret: str | None = Field(default=None, description="Key of the X-Hub-Signature-256 HMAC.")
    events: list[str] = Field(
        default_factory=lambda: ["push"], description="Event names, or `*` for all."
    )
    content_type: Literal["json", "form"] = Field(default="json", description="Body encoding.")
    active: bool = Field(default=True, description="Inactive hooks receive nothing.")


class SeedRepo(_Model):
    full_name: str = Field(
        description="`owner/name`; the owner must be a seeded user or organisation."
    )
    default_branch: str = Field(default="main", description="Branch the initial commit goes to.")
    private: bool = Field(
        default=False, description="Private repositories are hidden from non-members."
    )
    description: str | None = Field(default=None, description="Repository description.")
    content: Path | None = Field(
        default=None,
        description="Folder whose files form the initial commit (relative to the seed file).",
    )
    collaborators: dict[str, PermissionName] = Field(
        default_factory=dict, description="Login → permission on this repository."
    )
    webhooks: list[SeedHook] = Field(default_factory=list, description="Repository webhooks.")


class SeedInstallation(_Model):
    id: int = Field(description="Installation id, used in `/app/installations/{id}/access_tokens`.")
    account: str = Field(description="Login of the user or organisation the app is installed on.")
    repositories: list[str] | None = Field(
        default=None, description="Repository names the installation may use; all when absent."
    )


class SeedApp(_Model):
    id: int = Field(description="App id: the JWT's `iss` claim.")
    slug: str = Field(description="App slug; installation tokens act as `<slug>[bot]`.")
    name: str | None = Field(default=None, description="Display name (defaults to the slug).")
    owner: str = Field(description="Login of the user or organisation that owns the app.")
    private_key: Path | None = Field(
        default=None,
        description="PEM file of the app's private key (relative to the seed file); when "
        "absent a key is generated and written to `DIR/apps/<slug>.pem`.",
    )
    installations: list[SeedInstallation] = Field(
        default_factory=list, description="Where it is installed."
    )
    token_ttl_seconds: int | None = Field(
        default=None,
        gt=0,
        description="Lifetime of installation tokens; GitHub's hour when absent.",
    )


class Seed(_Model):
    users: list[SeedUser] = Field(default_factory=list, description="People and their tokens.")
    orgs: list[SeedOrg] = Field(default_factory=list, description="Organisations.")
    teams: list[SeedTeam] = Field(default_factory=list, description="Teams of organisations.")
    repositories: list[SeedRepo] = Field(default_factory=list, description="Repositories.")
    apps: list[SeedApp] = Field(
        default_factory=list, description="GitHub Apps and their installations."
    )


def load_seed(path: Path) -> Seed:
    """Parse a seed file; errors name the file and the field."""
    try:
        raw = yaml.safe_load(path.read_text()) or {}
        return Seed.model_validate(raw)
    except OSError as error:
        raise SeedError(f"cannot read seed file {path}: {error}") from error
    except yaml.YAMLError as error:
        raise SeedError(f"{path}: not valid YAML: {error}") from error
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors()
        )
        raise SeedError(
            f"{path}: {problems}", hint="see the seed format in the README (Sandbox GitHub)"
        ) from error


def apply_seed(sandbox: Sandbox, seed: Seed, base_dir: Path) -> None:
    """Add what the seed declares and the sandbox lacks."""
    with sandbox.store.transaction():
        for seed_user in seed.users:
            _ensure_user(sandbox, seed_user)
        for org in seed.orgs:
            _ensure_org(sandbox, org)
        for team in seed.teams:
            _ensure_team(sandbox, team)
        for app in seed.apps:
            ensure_app(sandbox, app, base_dir)
    for repo in seed.repositories:
        _ensure_repo(sandbox, repo, base_dir)


def _ensure_user(sandbox: Sandbox, seed_user: SeedUser) -> None:
    if sandbox.user(seed_user.login) is None:
        sandbox.store.insert(
            "user",
            {
                "login": seed_user.login,
                "type": "User",
                "site_admin": seed_user.site_admin,
                "name": seed_user.name or seed_user.login,
                "email": seed_user.email or f"{seed_user.login}@users.noreply.sandbox",
            },
            key=seed_user.login.lower(),
        )
    if seed_user.token and sandbox.store.find_one("token", key=seed_user.token) is None:
        sandbox.store.insert(
            "token", {"login": seed_user.login, "expires_at": None}, key=seed_user.token
        )


def _ensure_org(sandbox: Sandbox, org: SeedOrg) -> None:
    record = sandbox.user(org.login)
    fields = {
        "admins": org.admins,
        "members": sorted(set(org.members) | set(org.admins)),
        "default_permission": org.default_permission,
    }
    if record is None:
        sandbox.store.insert(
            "user",
            {"login": org.login, "type": "Organization", "site_admin": False, **fields},
            key=org.login.lower(),
        )


def _ensure_team(sandbox: Sandbox, team: SeedTeam) -> None:
    if sandbox.store.find_one("team", scope=team.org.lower(), key=team.slug) is not None:
        return
    sandbox.store.insert(
        "team",
        {
            "org": team.org,
            "slug": team.slug,
            "name": team.name or team.slug,
            "members": team.members,
            "maintainers": team.maintainers,
            "repositories": {name.lower(): perm for name, perm in team.repositories.items()},
        },
        scope=team.org.lower(),
        key=team.slug,
    )


def _ensure_repo(sandbox: Sandbox, seed_repo: SeedRepo, base_dir: Path) -> None:
    owner, _, name = seed_repo.full_name.partition("/")
    if not name:
        raise SeedError(f"repository {seed_repo.full_name!r} must be written owner/name")
    if sandbox.user(owner) is None:
        raise SeedError(
            f"repository {seed_repo.full_name}: owner {owner!r} is not a seeded user or org",
            hint="add it under `users:` or `orgs:` in the seed file",
        )
    scope = seed_repo.full_name.lower()
    with sandbox.store.transaction():
        record = sandbox.repo(owner, name)
        if record is None:
            record = sandbox.store.insert(
                "repo",
                {
                    "owner": owner,
                    "name": name,
                    "full_name": seed_repo.full_name,
                    "default_branch": seed_repo.default_branch,
                    "private": seed_repo.private,
                    "description": seed_repo.description,
                    "created_at": now(),
                    "next_number": 1,
                },
                key=scope,
            )
        for login, permission in seed_repo.collaborators.items():
            if sandbox.store.find_one("collaborator", scope=scope, key=login.lower()) is None:
                sandbox.store.insert(
                    "collaborator",
                    {"login": login, "permission": permission},
                    scope=scope,
                    key=login.lower(),
                )
        known = {hook["url"] for hook in sandbox.store.find("hook", scope=scope)}
        for hook in seed_repo.webhooks:
            if hook.url not in known:
                sandbox.store.insert(
                    "hook", {**hook.model_dump(), "created_at": now()}, scope=scope, key=hook.url
                )
    _ensure_git(sandbox, record, seed_repo, base_dir)


def _ensure_git(sandbox: Sandbox, record: Record, seed_repo: SeedRepo, base_dir: Path) -> None:
    path = sandbox.repo_path(record["full_name"])
    git = GitRepo(path)
    if not (path / "HEAD").exists():
        git.init(seed_repo.default_branch)
    install_hook(sandbox, path)
    ref = f"refs/heads/{seed_repo.default_branch}"
    if git.ref_sha(ref) is None:
        folder = (base_dir / seed_repo.content) if seed_repo.content else None
        if folder is not None and not folder.is_dir():
            raise SeedError(f"repository {record['full_name']}: content folder {folder} not found")
        tree = git.import_folder(folder) if folder else git.write_tree([], None)
        owner = sandbox.user(record["owner"]) or {}
        person = Person(
            owner.get("name") or record["owner"], owner.get("email") or "sandbox@localhost", now()
        )
        sha = git.write_commit(tree, [], "Initial commit", person, person)
        git.update_ref(ref, sha)


_HOOK = '''#!{python}
"""post-receive: tell the sandbox GitHub about this push so it sends the webhooks."""
import json, pathlib, sys, urllib.request

data = pathlib.Path({data_dir!r})
body = json.dumps({{"repository": {git_dir!r}, "updates": sys.stdin.read()}}).encode()
try:
    endpoint = (data / "endpoint").read_text().strip()
    request = urllib.request.Request(
        endpoint + "/_sandbox/git/post-receive",
        data=body,
        headers={{"Content-Type": "application/json",
                  "X-Sandbox-Hook-Secret": (data / "hook-secret").read_text().strip()}},
    )
    urllib.request.urlopen(request, timeout=60).read()
except Exception as error:
    print(f"sandbox github: push not reported ({{error}}); is it running?", file=sys.stderr)
'''


def install_hook(sandbox: Sandbox, path: Path) -> None:
    """A post-receive hook that reports pushes back to the running sandbox over HTTP."""
    hook = path / "hooks" / "post-receive"
    hook.parent.mkdir(exist_ok=True)
    hook.write_text(
        _HOOK.format(
            python=sys.executable,
            data_dir=str(sandbox.data_dir.resolve()),
            git_dir=str(path.resolve()),
        )
    )
    hook.chmod(0o755)
