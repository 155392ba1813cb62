"""GitHub's side of the in-memory forge: one repository with its pull requests, reviews,
comments, statuses, check runs and deployments, the people and teams around it, branch
protection, and what people do there (review, comment, push, press "Update branch").

`MemoryForge` (tests/support/memory_forge.py) is the bot's view of it. The world it starts
with is the sandbox's default seed (tests/support/github_sandbox.py): the same users,
team, permissions, App and files, so one test reads the same against either forge.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.forge.base import (
    CommitState,
    Permission,
    PullRequestInfo,
    PullState,
    Review,
)
from tests.support.github_sandbox import (
    APP_ID,
    APP_PERMISSIONS,
    DEFAULT_CONTENT,
    ORG,
    REPO_NAME,
    TOKENS,
)
from tests.support.memory_git import Commit, MemoryGit, Person

APP_SLUG = "promobot"
APP_LOGIN = f"{APP_SLUG}[bot]"
# GitHub's own commits ("Update branch", merges) are committed by this identity.
WEB_FLOW = Person("GitHub", "noreply@github.com", "web-flow")
PERMISSIONS = {
    "alice": Permission.ADMIN,  # organisation admin
    "bob": Permission.WRITE,  # write collaborator
    "carol": Permission.WRITE,  # through the ml-reviewers team
    "dave": Permission.READ,  # read collaborator
}
REVIEW_STATES = {
    "APPROVE": "APPROVED",
    "REQUEST_CHANGES": "CHANGES_REQUESTED",
    "COMMENT": "COMMENTED",
}
PASSING = ("success", "neutral", "skipped")


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class Team:
    """A team of the organisation; `has_access` is its access to the repository."""

    members: set[str]
    maintainers: set[str] = field(default_factory=set)
    has_access: bool = True


@dataclass(frozen=True)
class Protection:
    """Branch protection of the default branch, as the sandbox's seed states it.

    `blocked` is any other rule's refusal in GitHub's words (a merge queue, a ruleset);
    while set, nothing merges.
    """

    required_approvals: int | None = None
    required_checks: tuple[tuple[str, int | None], ...] = ()
    strict: bool = False
    blocked: str | None = None


@dataclass
class PullRecord:
    """A pull request as GitHub stores it. An open one's head follows its branch."""

    number: int
    title: str
    body: str
    author: str
    head_ref: str
    head_sha: str
    base_ref: str
    base_sha: str
    draft: bool = False
    state: PullState = PullState.OPEN
    merged: bool = False
    merge_commit_sha: str | None = None
    merged_at: dt.datetime | None = None
    labels: list[str] = field(default_factory=list)
    requested_reviewers: list[str] = field(default_factory=list)
    requested_teams: list[str] = field(default_factory=list)
    mergeability_started: tuple[str, str] | None = None
    mergeability_done: tuple[str, str] | None = None


@dataclass
class CommentRecord:
    id: int
    user: str
    body: str
    created_at: dt.datetime
    updated_at: dt.datetime


@dataclass
class StatusRecord:
    id: int
    sha: str
    context: str
    state: CommitState
    description: str | None
    target_url: str | None
    creator: str


@dataclass
class CheckRunRecord:
    id: int
    sha: str
    name: str
    app_id: int
    app_slug: str
    status: str
    conclusion: str | None
    output: dict[str, Any]
    details_url: str | None = None
    annotations: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class DeploymentRecord:
    id: int
    ref: str
    sha: str
    environment: str
    payload: dict[str, Any]
    description: str
    creator: str
    statuses: list[dict[str, Any]] = field(default_factory=list)


class MemoryGitHub:
    """One repository on GitHub, in memory, with the sandbox seed's people and App."""

    def __init__(
        self,
        *,
        content: Mapping[str, str] | None = None,
        repository: str = REPO_NAME,
        default_branch: str = "main",
        permissions: Mapping[str, Permission] | None = None,
        teams: Mapping[str, Team] | None = None,
        app_permissions: Mapping[str, str] | None = None,
        drafts_allowed: bool = True,
        protection: Protection | None = None,
        installation_token_ttl: float = 3600,
        clock: Callable[[], dt.datetime] = utc_now,
    ) -> None:
        self.repository = repository
        self.owner = repository.partition("/")[0]
        self.default_branch = default_branch
        self.git = MemoryGit(clock)
        self.users = {
            login: Person(login.title(), f"{login}@example.com", login) for login in TOKENS
        }
        self.tokens = dict(TOKENS)
        self.org_members = {"alice", "bob", "carol"} if self.owner == ORG else set()
        self.permissions = dict(PERMISSIONS if permissions is None else permissions)
        self.teams = dict(teams if teams is not None else default_teams())
        self.app_id, self.app_slug = APP_ID, APP_SLUG
        self.app_permissions = dict(APP_PERMISSIONS if app_permissions is None else app_permissions)
        self.drafts_allowed = drafts_allowed
        self.protection = protection or Protection()
        self.installation_token_ttl = installation_token_ttl
        self.installation_tokens: dict[str, dt.datetime] = {}
        self.clock = clock
        self.pulls: dict[int, PullRecord] = {}
        self.comments: dict[int, list[CommentRecord]] = {}
        self.reviews: dict[int, list[Review]] = {}
        self.review_bodies: dict[int, str] = {}
        self.statuses: list[StatusRecord] = []
        self.check_runs: dict[int, CheckRunRecord] = {}
        self.deployments: dict[int, DeploymentRecord] = {}
        self.requests: list[str] = []
        self._ids: Iterator[int] = itertools.count(1)
        seed = self.git.commit(
            dict(DEFAULT_CONTENT if content is None else content),
            (),
            "Initial commit\n",
            self.users["alice"],
        )
        self.git.branches[default_branch] = seed.sha

    # --- identities and permissions ----------------------------------------------------------

    def next_id(self) -> int:
        """Ids of comments, reviews, statuses, runs and deployments: one increasing series."""
        return next(self._ids)

    def bot_person(self) -> Person:
        """The App's bot: GitHub makes it the author and committer of the App's commits."""
        return Person(APP_LOGIN, f"{self.app_id}+{APP_LOGIN}@users.noreply.github.com", APP_LOGIN)

    def person(self, login: str) -> Person:
        return self.bot_person() if login == APP_LOGIN else self.users[login]

    def person_by_email(self, name: str, email: str) -> Person:
        """A configured identity, credited to the account that owns the address, if any."""
        owner = next((p.login for p in self.users.values() if p.email == email.lower()), None)
        return Person(name, email, owner)

    def permission(self, login: str) -> Permission:
        """A user's permission on the (public) repository; anyone signed in may read it."""
        if login in self.permissions:
            return self.permissions[login]
        return Permission.READ if login in self.users else Permission.NONE

    def is_collaborator(self, login: str) -> bool:
        """Whether the repository would count `login` as a collaborator were it private."""
        return login in self.permissions

    # --- pull requests as GitHub renders them ------------------------------------------------

    def pull(self, number: int) -> PullRecord | None:
        return self.pulls.get(number)

    def head_of(self, pr: PullRecord) -> str:
        if pr.state is PullState.OPEN:
            return self.git.branches.get(pr.head_ref, pr.head_sha)
        return pr.head_sha

    def base_of(self, pr: PullRecord) -> str:
        if pr.state is PullState.OPEN:
            return self.git.branches.get(pr.base_ref, pr.base_sha)
        return pr.base_sha

    def start_mergeability(self, pr: PullRecord) -> None:
        """Reading, opening or editing a pull request starts GitHub's background job."""
        if not pr.merged:
            key = (self.head_of(pr), self.base_of(pr))
            if pr.mergeability_started != key:
                pr.mergeability_started = key

    def finish_mergeability(self, pr: PullRecord) -> None:
        """The job GitHub started has finished (a merge waits for it)."""
        self.start_mergeability(pr)
        pr.mergeability_done = pr.mergeability_started

    def read_pull(self, pr: PullRecord) -> None:
        """A read sees the result of the job an earlier read started, and starts a new one."""
        key = (self.head_of(pr), self.base_of(pr))
        if pr.mergeability_started == key:
            pr.mergeability_done = key
        self.start_mergeability(pr)

    def mergeability(self, pr: PullRecord) -> tuple[bool | None, str]:
        """`mergeable` and `mergeable_state`: null and unknown until the job is done."""
        head, base = self.head_of(pr), self.base_of(pr)
        if pr.merged or pr.mergeability_done != (head, base):
            return None, "unknown"
        if self.git.merged_files(base, head) is None:
            return False, "dirty"
        if pr.draft:
            return True, "draft"
        blockers = self.merge_blockers(pr)
        if any(kind != "behind" for kind, _ in blockers):
            return True, "blocked"
        if blockers:
            return True, "behind"
        return True, "unstable" if self.has_unfinished_checks(head) else "clean"

    def pull_info(self, pr: PullRecord, files: tuple[str, ...] | None = None) -> PullRequestInfo:
        mergeable, state = self.mergeability(pr)
        return PullRequestInfo(
            number=pr.number,
            url=f"https://github.com/{self.repository}/pull/{pr.number}",
            title=pr.title,
            body=pr.body,
            state=pr.state,
            draft=pr.draft,
            merged=pr.merged,
            merge_commit_sha=pr.merge_commit_sha,
            merged_at=pr.merged_at,
            head_ref=pr.head_ref,
            head_sha=self.head_of(pr),
            base_ref=pr.base_ref,
            author=pr.author,
            labels=tuple(pr.labels),
            mergeable=mergeable,
            mergeable_state=state,
            requested_reviewers=tuple(pr.requested_reviewers),
            requested_teams=tuple(pr.requested_teams),
            files=files,
        )

    def changed_files(self, pr: PullRecord) -> tuple[str, ...]:
        """Paths the pull request changes against its merge base with the base."""
        return tuple(self.git.comparison(self.base_of(pr), self.head_of(pr)))

    # --- protection --------------------------------------------------------------------------

    def merge_blockers(self, pr: PullRecord) -> list[tuple[str, str]]:
        """(kind, GitHub's words) of every protection rule the pull request does not meet."""
        rules, head, base = self.protection, self.head_of(pr), self.base_of(pr)
        found: list[tuple[str, str]] = []
        if rules.required_approvals is not None:
            found += self._review_blockers(pr, rules.required_approvals)
        if rules.required_checks:
            states = {c: self.check_state(head, c, app) for c, app in rules.required_checks}
            unmet = [c for c, state in states.items() if state != "ok"]
            if len(unmet) == 1:
                word = "failing" if states[unmet[0]] == "failure" else "expected"
                found.append(("checks", f'Required status check "{unmet[0]}" is {word}.'))
            elif unmet:
                total = len(rules.required_checks)
                found.append(
                    ("checks", f"{len(unmet)} of {total} required status checks are expected.")
                )
        if rules.strict and not self.git.is_ancestor(base, head):
            found.append(("behind", "Head branch is not up to date with the base branch."))
        if rules.blocked is not None:
            found.append(("other", rules.blocked))
        return found

    def _review_blockers(self, pr: PullRecord, needed: int) -> list[tuple[str, str]]:
        latest: dict[str, Review] = {}
        for review in self.reviews.get(pr.number, []):
            if review.state in ("APPROVED", "CHANGES_REQUESTED", "DISMISSED"):
                latest[review.user] = review
        writers = {
            u: r for u, r in latest.items() if u in self.users and self.permission(u).can_write
        }
        found = []
        if any(r.state == "CHANGES_REQUESTED" for r in writers.values()):
            found.append(("reviews", "Changes were requested by a reviewer with write access."))
        if sum(r.state == "APPROVED" for r in writers.values()) < needed:
            noun = "review is" if needed == 1 else "reviews are"
            found.append(
                (
                    "reviews",
                    f"At least {needed} approving {noun} required by reviewers with write access.",
                )
            )
        return found

    def check_state(self, sha: str, context: str, app_id: int | None) -> str:
        """ok | pending | failure | missing for one required check on `sha`."""
        states = []
        statuses = [s for s in self.statuses if s.sha == sha and s.context == context]
        if app_id is not None:
            statuses = [s for s in statuses if s.creator == APP_LOGIN and app_id == self.app_id]
        if statuses:
            states.append(
                {"success": "ok", "pending": "pending"}.get(statuses[-1].state, "failure")
            )
        runs = [r for r in self.check_runs.values() if r.sha == sha and r.name == context]
        runs = [r for r in runs if app_id is None or r.app_id == app_id]
        if runs:
            run = runs[-1]
            passed = run.status == "completed" and run.conclusion in PASSING
            states.append("ok" if passed else "pending" if run.status != "completed" else "failure")
        if not states:
            return "missing"
        return next((s for s in ("failure", "pending") if s in states), "ok")

    def has_unfinished_checks(self, sha: str) -> bool:
        """A status or check run nobody requires is failing or unfinished (`unstable`)."""
        required = {context for context, _ in self.protection.required_checks}
        latest = {s.context: s.state for s in self.statuses if s.sha == sha}
        if any(state != "success" for c, state in latest.items() if c not in required):
            return True
        runs = {r.name: r for r in self.check_runs.values() if r.sha == sha}
        return any(
            r.status != "completed" or r.conclusion not in PASSING
            for name, r in runs.items()
            if name not in required
        )

    # --- what people do ----------------------------------------------------------------------

    def review(self, login: str, number: int, event: str = "APPROVE", body: str = "lgtm") -> Review:
        """`login` submits a review on the pull request's current head."""
        pr = self.pulls[number]
        if event == "APPROVE" and login == pr.author:
            raise ValueError("Can not approve your own pull request")
        if event != "APPROVE" and not body:
            raise ValueError(f"Body is required for {event}")
        review = Review(
            id=self.next_id(),
            user=login,
            state=REVIEW_STATES[event],
            commit_id=self.head_of(pr),
            submitted_at=self.clock(),
        )
        self.reviews.setdefault(number, []).append(review)
        self.review_bodies[review.id] = body
        pr.requested_reviewers = [r for r in pr.requested_reviewers if r != login]
        return review

    def comment(self, login: str, number: int, body: str) -> CommentRecord:
        """`login` comments on the pull request."""
        if number not in self.pulls:
            raise KeyError(number)
        stamp = self.clock()
        record = CommentRecord(self.next_id(), login, body, stamp, stamp)
        self.comments.setdefault(number, []).append(record)
        return record

    def edit_pull(self, number: int, *, title: str | None = None, body: str | None = None) -> None:
        """Someone edits the title or body in the web page."""
        pr = self.pulls[number]
        pr.title = pr.title if title is None else title
        pr.body = pr.body if body is None else body

    def commit_file(
        self, login: str, branch: str, path: str, text: str | None, message: str = "edit"
    ) -> str:
        """`login` commits one file (None deletes it) on `branch` with the Contents API."""
        head = self.git.branches[branch]
        files = dict(self.git.commits[head].files)
        if text is None:
            del files[path]
        else:
            files[path] = text
        person = self.users[login]
        commit = self.git.commit(files, (head,), f"{message}\n", person)
        self.git.branches[branch] = commit.sha
        return commit.sha

    def update_branch(self, login: str, number: int) -> str:
        """`login` presses "Update branch": GitHub merges the base into the head and signs it."""
        pr = self.pulls[number]
        head, base = self.head_of(pr), self.base_of(pr)
        if self.git.is_ancestor(base, head):
            raise ValueError("There are no new commits on the base branch.")
        files = self.git.merged_files(head, base)
        if files is None:
            raise ValueError("merge conflict between base and head")
        message = f"Merge branch '{pr.base_ref}' into {pr.head_ref}\n"
        commit = self.git.commit(
            files, (head, base), message, self.users[login], WEB_FLOW, verified=True
        )
        self.git.branches[pr.head_ref] = commit.sha
        return commit.sha

    def set_status(
        self, login: str, sha: str, state: CommitState, context: str, description: str = ""
    ) -> StatusRecord:
        """Anyone with write access may post a status with any context."""
        record = StatusRecord(self.next_id(), sha, context, state, description or None, None, login)
        self.statuses.append(record)
        return record

    def add_check_run(
        self, sha: str, name: str, *, app_id: int, app_slug: str, conclusion: str | None
    ) -> CheckRunRecord:
        """A check run of another App."""
        status = "in_progress" if conclusion is None else "completed"
        run = CheckRunRecord(self.next_id(), sha, name, app_id, app_slug, status, conclusion, {})
        self.check_runs[run.id] = run
        return run

    # --- what git holds ----------------------------------------------------------------------

    def file_at(self, ref: str, path: str) -> str | None:
        files = self.git.files_at(ref)
        return None if files is None else files.get(path)

    def commits_on(self, branch: str, base: str | None = None) -> list[str]:
        """Commits on `branch` that the default branch (or `base`) lacks, newest first."""
        tip = self.git.branches[base or self.default_branch]
        return self.git.added_commits(tip, self.git.branches[branch])

    def commit(self, sha: str) -> Commit:
        return self.git.commits[sha]


def default_teams() -> dict[str, Team]:
    """The seed's one team: carol a member, alice a maintainer, write access to the repository."""
    return {"ml-reviewers": Team(members={"carol"}, maintainers={"alice"})}
