"""Branches, their classic protection, and the ruleset rules that apply to them."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from promobot_sandbox.github.core import ApiError, Json, json_response, paginate
from promobot_sandbox.github.deps import Ctx, context
from promobot_sandbox.github.gitrepo import GitRepo
from promobot_sandbox.github.protection import is_protected, ruleset_covers
from promobot_sandbox.github.routes_git import commit_json
from promobot_sandbox.github.store import Record

router = APIRouter()
C = Annotated[Ctx, Depends(context)]
REPO = "/repos/{owner}/{repo}"
NOT_PROTECTED_DOCS = "https://docs.github.com/rest/branches/branch-protection#get-branch-protection"


def _repo_for_administration(ctx: Ctx, owner: str, repo: str) -> Record:
    """People need admin rights; an installation needs the `administration` permission."""
    if ctx.who.kind == "installation":
        return ctx.require(owner, repo, "read")
    return ctx.require(owner, repo, "admin")


@router.get(REPO + "/branches/{branch:path}/protection")
def get_protection(owner: str, repo: str, branch: str, ctx: C) -> Response:
    """404 "Branch not protected" when the branch has no classic protection.
    https://docs.github.com/en/rest/branches/branch-protection#get-branch-protection"""
    record = _repo_for_administration(ctx, owner, repo)
    if ctx.sb.git(record).ref_sha(f"refs/heads/{branch}") is None:
        raise ApiError(404, "Branch not found")
    raw = (record.get("branch_protection") or {}).get(branch)
    if raw is None:
        raise ApiError(404, "Branch not protected", docs=NOT_PROTECTED_DOCS)
    url = f"{ctx.links.repo_api(record['full_name'])}/branches/{branch}/protection"
    return json_response(protection_json(url, branch, raw))


@router.get(REPO + "/branches/{branch:path}/protection/required_signatures")
def get_required_signatures(owner: str, repo: str, branch: str, ctx: C) -> Response:
    """https://docs.github.com/en/rest/branches/branch-protection#get-commit-signature-protection"""
    record = _repo_for_administration(ctx, owner, repo)
    raw = (record.get("branch_protection") or {}).get(branch)
    if raw is None:
        raise ApiError(404, "Branch not protected", docs=NOT_PROTECTED_DOCS)
    url = f"{ctx.links.repo_api(record['full_name'])}/branches/{branch}/protection"
    return json_response(protection_json(url, branch, raw)["required_signatures"])


def protection_json(url: str, branch: str, raw: dict[str, Any]) -> Json:
    body: Json = {
        "url": url,
        "name": branch,
        "protection_url": url,
        "required_signatures": {
            "url": f"{url}/required_signatures",
            "enabled": bool(raw.get("required_signatures")),
        },
        "enforce_admins": {"url": f"{url}/enforce_admins", "enabled": bool(raw["enforce_admins"])},
        "required_linear_history": {"enabled": False},
        "allow_force_pushes": {"enabled": bool(raw.get("allow_force_pushes"))},
        "allow_deletions": {"enabled": bool(raw.get("allow_deletions"))},
        "block_creations": {"enabled": False},
        "required_conversation_resolution": {"enabled": False},
        "lock_branch": {"enabled": False},
        "allow_fork_syncing": {"enabled": False},
    }
    checks = raw.get("required_status_checks")
    if checks is not None:
        body["required_status_checks"] = {
            "url": f"{url}/required_status_checks",
            "strict": bool(checks["strict"]),
            "contexts": list(checks["contexts"]) + [c["context"] for c in checks["checks"]],
            "contexts_url": f"{url}/required_status_checks/contexts",
            "checks": [{"context": c, "app_id": None} for c in checks["contexts"]]
            + [{"context": c["context"], "app_id": c.get("app_id")} for c in checks["checks"]],
        }
    reviews = raw.get("required_pull_request_reviews")
    if reviews is not None:
        body["required_pull_request_reviews"] = {
            "url": f"{url}/required_pull_request_reviews",
            "dismiss_stale_reviews": bool(reviews["dismiss_stale_reviews"]),
            "require_code_owner_reviews": False,
            "required_approving_review_count": int(reviews["required_approving_review_count"]),
            "require_last_push_approval": bool(reviews["require_last_push_approval"]),
        }
    return body


@router.get(REPO + "/rules/branches/{branch:path}")
def rules_for_branch(owner: str, repo: str, branch: str, ctx: C) -> Response:
    """Every rule of the active rulesets that cover `branch`.
    https://docs.github.com/en/rest/repos/rules#get-rules-for-a-branch"""
    record = ctx.require(owner, repo, "read")
    rules = []
    for ruleset in record.get("rulesets") or []:
        if not ruleset_covers(record, ruleset, branch):
            continue
        for rule in ruleset["rules"]:
            rules.append(
                {
                    **_rule_json(rule),
                    "ruleset_source_type": "Repository",
                    "ruleset_source": record["full_name"],
                    "ruleset_id": ruleset["id"],
                }
            )
    return paginate(ctx.request, rules)


def _rule_json(rule: dict[str, Any]) -> Json:
    parameters: dict[str, Any] = rule.get("parameters") or {}
    if rule["type"] == "pull_request":
        return {
            "type": "pull_request",
            "parameters": {
                "dismiss_stale_reviews_on_push": parameters["dismiss_stale_reviews_on_push"],
                "require_code_owner_review": False,
                "require_last_push_approval": parameters["require_last_push_approval"],
                "required_approving_review_count": parameters["required_approving_review_count"],
                "required_review_thread_resolution": False,
            },
        }
    if rule["type"] == "required_status_checks":
        return {
            "type": "required_status_checks",
            "parameters": {
                "strict_required_status_checks_policy": parameters[
                    "strict_required_status_checks_policy"
                ],
                "required_status_checks": [
                    {k: v for k, v in check.items() if v is not None}
                    for check in parameters["required_status_checks"]
                ],
            },
        }
    return {"type": rule["type"]}


# --- branches ---------------------------------------------------------------------------


def branch_json(ctx: Ctx, record: Record, git: GitRepo, name: str) -> Json:
    sha = git.ref_sha(f"refs/heads/{name}")
    if sha is None:
        raise ApiError(404, "Branch not found")
    api = ctx.links.repo_api(record["full_name"])
    return {
        "name": name,
        "commit": commit_json(ctx, record, git, sha),
        "_links": {
            "self": f"{api}/branches/{name}",
            "html": f"{ctx.links.repo_web(record['full_name'])}/tree/{name}",
        },
        "protected": is_protected(record, name),
        "protection": protection_summary(record, name),
        "protection_url": f"{api}/branches/{name}/protection",
    }


def protection_summary(record: Record, name: str) -> Json:
    """The `protection` of a branch object: its classic required checks."""
    classic = (record.get("branch_protection") or {}).get(name) or {}
    checks = classic.get("required_status_checks") or {}
    contexts = list(checks.get("contexts", [])) + [c["context"] for c in checks.get("checks", [])]
    return {
        "enabled": is_protected(record, name),
        "required_status_checks": {
            "enforcement_level": "non_admins" if contexts else "off",
            "contexts": contexts,
            "checks": [{"context": c, "app_id": None} for c in checks.get("contexts", [])]
            + [
                {"context": c["context"], "app_id": c.get("app_id")}
                for c in checks.get("checks", [])
            ],
        },
    }


@router.get(REPO + "/branches/{branch:path}")
def get_branch(owner: str, repo: str, branch: str, ctx: C) -> Response:
    record = ctx.require(owner, repo, "read")
    return json_response(branch_json(ctx, record, ctx.sb.git(record), branch))


@router.get(REPO + "/branches")
def list_branches(owner: str, repo: str, ctx: C) -> Response:
    record = ctx.require(owner, repo, "read")
    git = ctx.sb.git(record)
    api = ctx.links.repo_api(record["full_name"])
    branches = [
        {
            "name": name.removeprefix("refs/heads/"),
            "commit": {"sha": sha, "url": f"{api}/commits/{sha}"},
            "protected": is_protected(record, name.removeprefix("refs/heads/")),
        }
        for name, sha, _ in git.refs("refs/heads/")
    ]
    return paginate(ctx.request, branches)
