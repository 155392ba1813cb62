"""The seed file: who and what the sandbox starts with (its models: `seed_models`).

`apply_seed` only adds what is missing, so `--seed` on an existing data folder is safe:
users, tokens, repositories and hooks already there are left as they are. Configuration
follows the seed each time: plans, App permissions and webhooks, branch protection,
rulesets, timing and rate limits.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import ValidationError

from promobot_sandbox.errors import SeedError
from promobot_sandbox.github.apps import ensure_app
from promobot_sandbox.github.core import now
from promobot_sandbox.github.githooks import install_hooks
from promobot_sandbox.github.gitrepo import GitRepo, Person
from promobot_sandbox.github.sandbox import Sandbox
from promobot_sandbox.github.seed_models import Seed, SeedOrg, SeedRepo, SeedTeam, SeedUser
from promobot_sandbox.github.store import Record

__all__ = ["Seed", "apply_seed", "load_seed"]


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
        _store_settings(sandbox, seed)
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


def _store_settings(sandbox: Sandbox, seed: Seed) -> None:
    settings = {"timing": seed.timing.model_dump(), "rate_limits": seed.rate_limits.model_dump()}
    existing = sandbox.store.find_one("settings", key="github")
    if existing is None:
        sandbox.store.insert("settings", settings, key="github")
    else:
        sandbox.store.update("settings", {**existing, **settings})


def _ensure_user(sandbox: Sandbox, seed_user: SeedUser) -> None:
    record = sandbox.user(seed_user.login)
    if record is None:
        sandbox.store.insert(
            "user",
            {
                "login": seed_user.login,
                "type": "User",
                "site_admin": seed_user.site_admin,
                "name": seed_user.name or seed_user.login,
                "email": seed_user.email or f"{seed_user.login}@users.noreply.sandbox",
                "plan": seed_user.plan,
                "rate_limit": seed_user.rate_limit,
            },
            key=seed_user.login.lower(),
        )
    else:
        sandbox.store.update(
            "user", {**record, "plan": seed_user.plan, "rate_limit": seed_user.rate_limit}
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
            {
                "login": org.login,
                "type": "Organization",
                "site_admin": False,
                "plan": org.plan,
                **fields,
            },
            key=org.login.lower(),
        )
    else:
        sandbox.store.update("user", {**record, "plan": org.plan})


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
        record.update(
            branch_protection={
                branch: rules.model_dump() for branch, rules in seed_repo.branch_protection.items()
            },
            rulesets=[
                {**ruleset.model_dump(), "id": index + 1}
                for index, ruleset in enumerate(seed_repo.rulesets)
            ],
        )
        sandbox.store.update("repo", record)
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
    install_hooks(sandbox, path)
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
