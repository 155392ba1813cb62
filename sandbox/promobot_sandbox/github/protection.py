"""Branch protection and rulesets: what a merge or a push into a branch must satisfy.

Classic protection (administrators may bypass it unless `enforce_admins`) and active
rulesets (nobody bypasses them) combine; every rule that applies must hold. Refusals use
GitHub's words; a ruleset's are prefixed "Repository rule violations found".
https://docs.github.com/en/repositories/configuring-branches-and-merges-in-your-repository/managing-protected-branches/about-protected-branches
https://docs.github.com/en/repositories/configuring-branches-and-merges-in-your-repository/managing-rulesets/available-rules-for-rulesets
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from promobot_sandbox.github.core import Identity, has_permission
from promobot_sandbox.github.gitrepo import ZERO_SHA, GitRepo
from promobot_sandbox.github.sandbox import Sandbox
from promobot_sandbox.github.store import Record
from promobot_sandbox.github.verification import is_verified

PROTECTION_DOCS = "https://docs.github.com/articles/about-protected-branches"
RULESET_PREFIX = "Repository rule violations found\n\n"
PASSING_CONCLUSIONS = ("success", "neutral", "skipped")


@dataclass(frozen=True)
class Rules:
    """One source of rules for a branch, normalised: classic protection or a ruleset."""

    ruleset: str | None
    approvals: int | None
    dismiss_stale: bool
    last_push_approval: bool
    checks: tuple[tuple[str, int | None], ...] | None
    strict: bool
    signatures: bool
    force_push: bool
    deletion: bool
    admins_bypass: bool


@dataclass(frozen=True)
class Blocker:
    """An unmet requirement: `kind` is reviews | checks | behind | signatures | push."""

    kind: str
    message: str


def _classic(raw: dict[str, Any]) -> Rules:
    reviews = raw.get("required_pull_request_reviews")
    checks = raw.get("required_status_checks")
    pinned: tuple[tuple[str, int | None], ...] | None = None
    if checks is not None:
        pinned = tuple(
            [(c, None) for c in checks.get("contexts", [])]
            + [(c["context"], c.get("app_id")) for c in checks.get("checks", [])]
        )
    return Rules(
        ruleset=None,
        approvals=None if reviews is None else int(reviews["required_approving_review_count"]),
        dismiss_stale=bool(reviews and reviews.get("dismiss_stale_reviews")),
        last_push_approval=bool(reviews and reviews.get("require_last_push_approval")),
        checks=pinned,
        strict=bool(checks and checks.get("strict")),
        signatures=bool(raw.get("required_signatures")),
        force_push=bool(raw.get("allow_force_pushes")),
        deletion=bool(raw.get("allow_deletions")),
        admins_bypass=not raw.get("enforce_admins"),
    )


def _ruleset(raw: dict[str, Any]) -> Rules:
    kinds = {rule["type"]: rule.get("parameters") or {} for rule in raw["rules"]}
    pull = kinds.get("pull_request")
    status = kinds.get("required_status_checks")
    return Rules(
        ruleset=raw["name"],
        approvals=None if pull is None else int(pull["required_approving_review_count"]),
        dismiss_stale=bool(pull and pull.get("dismiss_stale_reviews_on_push")),
        last_push_approval=bool(pull and pull.get("require_last_push_approval")),
        checks=None
        if status is None
        else tuple(
            (c["context"], c.get("integration_id")) for c in status["required_status_checks"]
        ),
        strict=bool(status and status.get("strict_required_status_checks_policy")),
        signatures="required_signatures" in kinds,
        force_push="non_fast_forward" not in kinds,
        deletion="deletion" not in kinds,
        admins_bypass=False,
    )


def _pattern(glob: str) -> re.Pattern[str]:
    """fnmatch as rulesets read it: `**` crosses `/`, `*` and `?` do not."""
    regex = ""
    index = 0
    while index < len(glob):
        if glob.startswith("**", index):
            regex, index = regex + ".*", index + 2
        elif glob[index] == "*":
            regex, index = regex + "[^/]*", index + 1
        elif glob[index] == "?":
            regex, index = regex + "[^/]", index + 1
        else:
            regex, index = regex + re.escape(glob[index]), index + 1
    return re.compile(f"^{regex}$")


def _matches(pattern: str, ref: str, default_branch: str) -> bool:
    if pattern == "~ALL":
        return True
    if pattern == "~DEFAULT_BRANCH":
        return ref == f"refs/heads/{default_branch}"
    return bool(_pattern(pattern).match(ref))


def ruleset_covers(repo: Record, ruleset: dict[str, Any], branch: str) -> bool:
    """Whether an active ruleset's conditions take in `branch`."""
    names = ruleset["conditions"]["ref_name"]
    ref = f"refs/heads/{branch}"
    default = repo["default_branch"]
    return (
        ruleset["enforcement"] == "active"
        and any(_matches(p, ref, default) for p in names["include"])
        and not any(_matches(p, ref, default) for p in names["exclude"])
    )


def rules_for(repo: Record, branch: str) -> list[Rules]:
    """Every source of rules on `branch`: its classic protection, then active rulesets."""
    found = []
    classic = (repo.get("branch_protection") or {}).get(branch)
    if classic is not None:
        found.append(_classic(classic))
    for raw in repo.get("rulesets") or []:
        if ruleset_covers(repo, raw, branch):
            found.append(_ruleset(raw))
    return found


def _bypasses(sb: Sandbox, rules: Rules, repo: Record, who: Identity | None) -> bool:
    return (
        rules.admins_bypass
        and who is not None
        and who.kind == "user"
        and has_permission(sb.permission(who, repo), "admin")
    )


# --- checks -------------------------------------------------------------------------------


def _bot_of(sb: Sandbox, app_id: int) -> str | None:
    app = sb.store.find_one("app", key=str(app_id))
    return None if app is None else f"{app['slug']}[bot]".lower()


def check_state(sb: Sandbox, repo: Record, sha: str, context: str, app_id: int | None) -> str:
    """success | pending | failure | missing for one required check on `sha`: the latest
    status of that context and the latest check run of that name, from `app_id` only
    when the requirement is pinned to an App."""
    scope = repo["full_name"].lower()
    states = []
    bot = None if app_id is None or app_id < 0 else _bot_of(sb, app_id)
    statuses = [
        s
        for s in sb.store.find("status", scope=scope, key=sha)
        if s["context"].lower() == context.lower()
        and (bot is None or (s.get("creator") or "").lower() == bot)
        and (app_id is None or app_id < 0 or bot is not None)
    ]
    if statuses:
        latest = statuses[-1]["state"]
        states.append({"success": "success", "pending": "pending"}.get(latest, "failure"))
    runs = [
        r
        for r in sb.store.find("check_run", scope=scope, key=sha)
        if r["name"] == context and (app_id is None or app_id < 0 or r["app_id"] == app_id)
    ]
    if runs:
        run = runs[-1]
        if run["status"] != "completed":
            states.append("pending")
        else:
            states.append("success" if run.get("conclusion") in PASSING_CONCLUSIONS else "failure")
    if not states:
        return "missing"
    for state in ("failure", "pending"):
        if state in states:
            return state
    return "success"


def _check_blockers(sb: Sandbox, repo: Record, sha: str, required: Any) -> list[Blocker]:
    unmet = [
        (context, state)
        for context, app_id in required
        if (state := check_state(sb, repo, sha, context, app_id)) != "success"
    ]
    if not unmet:
        return []
    if len(unmet) == 1:
        context, state = unmet[0]
        word = "failing" if state == "failure" else "expected"
        return [Blocker("checks", f'Required status check "{context}" is {word}.')]
    return [
        Blocker("checks", f"{len(unmet)} of {len(required)} required status checks are expected.")
    ]


def non_required_failing(sb: Sandbox, repo: Record, sha: str, required: set[str]) -> bool:
    """Whether a check nobody requires is failing or unfinished (`unstable`)."""
    scope = repo["full_name"].lower()
    latest: dict[str, str] = {}
    for status in sb.store.find("status", scope=scope, key=sha):
        latest[status["context"].lower()] = status["state"]
    if any(state != "success" for ctx, state in latest.items() if ctx not in required):
        return True
    runs: dict[str, Record] = {}
    for run in sb.store.find("check_run", scope=scope, key=sha):
        runs[run["name"].lower()] = run
    return any(
        run["status"] != "completed" or run.get("conclusion") not in PASSING_CONCLUSIONS
        for name, run in runs.items()
        if name not in required
    )


def required_contexts(repo: Record, branch: str) -> set[str]:
    return {c.lower() for rules in rules_for(repo, branch) for c, _ in rules.checks or ()}


# --- reviews ------------------------------------------------------------------------------


def _review_blockers(
    sb: Sandbox, repo: Record, pr: Record, head: str, rules: Rules
) -> list[Blocker]:
    needed = rules.approvals or 0
    latest: dict[str, Record] = {}
    for review in sb.store.find("review", scope=repo["full_name"].lower(), key=pr["number"]):
        if review["state"] in ("APPROVED", "CHANGES_REQUESTED", "DISMISSED"):
            latest[review["user"].lower()] = review
    writers = {
        login: review
        for login, review in latest.items()
        if has_permission(sb.permission(Identity("user", review["user"]), repo), "write")
        and (sb.user(review["user"]) or {}).get("type") == "User"
    }
    blockers = []
    if any(r["state"] == "CHANGES_REQUESTED" for r in writers.values()):
        blockers.append(
            Blocker("reviews", "Changes were requested by a reviewer with write access.")
        )
    approved = [r for r in writers.values() if r["state"] == "APPROVED"]
    if len(approved) < needed:
        noun = "review is" if needed == 1 else "reviews are"
        blockers.append(
            Blocker(
                "reviews",
                f"At least {needed} approving {noun} required by reviewers with write access.",
            )
        )
    pusher = (pr.get("last_pusher") or "").lower()
    if rules.last_push_approval and not any(
        r["commit_id"] == head and r["user"].lower() != pusher for r in approved
    ):
        blockers.append(
            Blocker(
                "reviews", "New changes require approval from someone other than the last pusher."
            )
        )
    return blockers


# --- merges and pushes --------------------------------------------------------------------


def _signature_blockers(
    sb: Sandbox,
    repo: Record,
    pr: Record,
    head: str,
    base: str,
    method: str | None,
    who: Identity | None,
) -> list[Blocker]:
    """Merge commits and squashes are signed by GitHub; the pull request's own commits
    must be verified for a merge commit, and only its author may squash-merge; a rebase
    cannot be signed."""
    message = "Commits must have verified signatures."
    if method == "rebase":
        return [Blocker("signatures", message)]
    if method == "squash":
        author = (pr.get("user") or "").lower()
        if who is not None and (who.login or "").lower() != author:
            return [Blocker("signatures", message)]
        return []
    git = sb.git(repo)
    fork_point = git.merge_base(base, head) or base
    commits = git.rev_list(f"{fork_point}..{head}")
    if any(not is_verified(sb.store, repo, sha) for sha in commits):
        return [Blocker("signatures", message)]
    return []


def merge_blockers(
    sb: Sandbox,
    repo: Record,
    pr: Record,
    head: str,
    base: str,
    *,
    method: str | None = None,
    who: Identity | None = None,
) -> list[Blocker]:
    """What stops merging `pr` now. Without `who`, nobody bypasses (mergeable_state)."""
    found: list[Blocker] = []
    git = sb.git(repo)
    for rules in rules_for(repo, pr["base_ref"]):
        if _bypasses(sb, rules, repo, who):
            continue
        own: list[Blocker] = []
        if rules.approvals is not None:
            own += _review_blockers(sb, repo, pr, head, rules)
        if rules.checks is not None:
            own += _check_blockers(sb, repo, head, rules.checks)
            if rules.strict and not git.is_ancestor(base, head):
                own.append(Blocker("behind", "Head branch is not up to date with the base branch."))
        if rules.signatures:
            own += _signature_blockers(sb, repo, pr, head, base, method, who)
        found += [_sourced(b, rules) for b in own]
    return found


def _sourced(blocker: Blocker, rules: Rules) -> Blocker:
    if rules.ruleset is None:
        return blocker
    return Blocker(blocker.kind, RULESET_PREFIX + blocker.message)


def push_refusals(
    sb: Sandbox,
    repo: Record,
    ref: str,
    *,
    before: str,
    after: str,
    new_commits: list[str],
    fast_forward: bool,
    who: Identity | None,
) -> list[str]:
    """Why a direct push (`git push`, a ref update, a Contents API write) may not move
    `ref`; empty when it may. Merges of pull requests are judged by `merge_blockers`."""
    if not ref.startswith("refs/heads/"):
        return []
    messages = []
    for rules in rules_for(repo, ref.removeprefix("refs/heads/")):
        if _bypasses(sb, rules, repo, who):
            continue
        own = []
        if after == ZERO_SHA:
            if not rules.deletion:
                own.append(
                    "Cannot delete this protected branch"
                    if rules.ruleset is None
                    else "Cannot delete this branch"
                )
        else:
            if before != ZERO_SHA and not fast_forward and not rules.force_push:
                own.append("Cannot force-push to this branch")
            if before != ZERO_SHA and rules.approvals is not None:
                own.append("Changes must be made through a pull request.")
            if before != ZERO_SHA and rules.checks is not None:
                own += [b.message for b in _check_blockers(sb, repo, after, rules.checks)]
            if rules.signatures and any(not is_verified(sb.store, repo, c) for c in new_commits):
                own.append("Commits must have verified signatures.")
        messages += [m if rules.ruleset is None else RULESET_PREFIX + m for m in own]
    return messages


def new_commits(git: GitRepo, ref: str, after: str) -> list[str]:
    """Commits `after` brings that no other ref of the repository holds."""
    if after == ZERO_SHA:
        return []
    return git.rev_list(after, "--not", f"--exclude={ref}", "--all")


def dismisses_stale(repo: Record, branch: str) -> bool:
    return any(rules.dismiss_stale for rules in rules_for(repo, branch))


def is_protected(repo: Record, branch: str) -> bool:
    return bool(rules_for(repo, branch))
