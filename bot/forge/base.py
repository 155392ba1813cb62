"""The `Forge` protocol: what workflows ask of GitHub, one coarse call per workflow step.

Value types (`bot.forge.values`) are frozen pydantic models and errors
(`bot.forge.errors`) subclass `ForgeError`; both are re-exported here, so a
workflow imports everything forge-related from `bot.forge.base`. No PyGithub
type crosses this line, so workflows can be unit-tested with an in-memory forge.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from bot.errors import ForgeError
from bot.forge.errors import (
    ForgeDraftsRefusedError,
    ForgeHeadMovedError,
    ForgeHumanCommitError,
    ForgeMergeBlockedError,
    ForgeMergePendingError,
    ForgeNothingToChangeError,
    ForgeNotMergeableError,
    ForgePermissionError,
    ForgeRevertConflictError,
    ForgeTeamNotFoundError,
)
from bot.forge.values import (
    Annotation,
    AnnotationLevel,
    BotIdentity,
    BranchHead,
    CheckConclusion,
    CheckRunInfo,
    ChecksSnapshot,
    Comment,
    CommitInfo,
    CommitState,
    DeploymentInfo,
    DeploymentState,
    ForeignVerdict,
    GitCredentials,
    MergeBlock,
    MergeMethod,
    MergeResult,
    Permission,
    PromotionOutcome,
    PromotionPR,
    PullRequestInfo,
    PullState,
    RevertResult,
    Review,
    ReviewRequestProblem,
    StatusInfo,
)

__all__ = [
    "Annotation",
    "AnnotationLevel",
    "BotIdentity",
    "BranchHead",
    "CheckConclusion",
    "CheckRunInfo",
    "ChecksSnapshot",
    "Comment",
    "CommitInfo",
    "CommitState",
    "DeploymentInfo",
    "DeploymentState",
    "ForeignVerdict",
    "Forge",
    "ForgeDraftsRefusedError",
    "ForgeError",
    "ForgeHeadMovedError",
    "ForgeHumanCommitError",
    "ForgeMergeBlockedError",
    "ForgeMergePendingError",
    "ForgeNotMergeableError",
    "ForgeNothingToChangeError",
    "ForgePermissionError",
    "ForgeRevertConflictError",
    "ForgeTeamNotFoundError",
    "GitCredentials",
    "MergeBlock",
    "MergeMethod",
    "MergeResult",
    "Permission",
    "PromotionOutcome",
    "PromotionPR",
    "PullRequestInfo",
    "PullState",
    "RevertResult",
    "Review",
    "ReviewRequestProblem",
    "StatusInfo",
]


class Forge(Protocol):
    """GitHub as the workflows see it. Methods are safe to repeat after an interruption."""

    @property
    def bot_login(self) -> str:
        """Login of the bot: its comments, reviews and commits are recognised by it."""
        ...

    @property
    def bot(self) -> BotIdentity:
        """The bot's login, App id and verdict name: whose verdict counts."""
        ...

    @property
    def repository(self) -> str:
        """The repository this forge acts on, `owner/name`."""
        ...

    def default_branch(self) -> BranchHead:
        """The default branch and its head."""
        ...

    def read_file(self, path: str, ref: str | None = None) -> str | None:
        """Text of `path` at `ref` (default branch when None), or None when absent."""
        ...

    def list_files(self, path: str, ref: str | None = None) -> list[str]:
        """Paths of the files under the directory `path` (recursively), sorted; [] if absent."""
        ...

    def open_or_update_promotion(
        self,
        *,
        model: str,
        environment: str,
        manifest_path: str,
        manifest_text: str,
        title: str,
        body: str,
        labels: Sequence[str] = (),
        reviewers: Sequence[str] = (),
        team_reviewers: Sequence[str] = (),
        draft: bool = False,
        extra_files: Mapping[str, str] | None = None,
    ) -> PromotionPR:
        """Open the promotion pull request, or update the open one with a new commit.

        The commit changes the manifest and `extra_files` (path → text, e.g. the decision
        record); whether it changed anything is judged by the manifest alone.

        `body` is the bot's text; it is placed between the promobot markers and
        replaces only that part of an existing body. Review requests GitHub refuses are
        returned in `review_problems`; the rest is done. Raises `ForgeDraftsRefusedError`
        when `draft` is asked where GitHub offers no drafts (call again with draft=False).
        """
        ...

    def update_promotion_branch(
        self, number: int, *, expected_head_sha: str | None = None
    ) -> PromotionPR:
        """Bring a bot branch the base moved away from up to date: its one commit is made
        again on the base's head (GitHub's "Update branch" merges on it are dropped).

        UNCHANGED when it is up to date already; BLOCKED_BY_HUMAN_COMMIT (after one
        comment) when a person's commit is on it; `ForgeHeadMovedError` when the head is
        no longer `expected_head_sha`.
        """
        ...

    def wait_mergeable(self, number: int, timeout: float | None = None) -> PullRequestInfo:
        """The pull request once GitHub has computed `mergeable` (polled with backoff up to
        `timeout` seconds, the settings' when None); `mergeable` is still None on timeout."""
        ...

    def set_draft(self, number: int, draft: bool) -> PullRequestInfo:
        """Convert to draft or mark ready for review (GraphQL; REST cannot).

        Raises `ForgeDraftsRefusedError` where GitHub offers no drafts.
        """
        ...

    def close_pull_request(self, number: int, comment: str | None = None) -> PullRequestInfo:
        """Close without merging, after an optional comment."""
        ...

    def get_pull_request(self, number: int, *, with_files: bool = True) -> PullRequestInfo:
        """The pull request, with the paths it changes unless `with_files` is False."""
        ...

    def list_promotion_pull_requests(self) -> list[PullRequestInfo]:
        """Open pull requests whose head branch starts with `promobot/`."""
        ...

    def set_commit_status(
        self,
        sha: str,
        state: CommitState,
        description: str,
        *,
        target_url: str | None = None,
        context: str | None = None,
    ) -> None:
        """Set a commit status (context: the settings' `status_context` when None)."""
        ...

    def set_check_run(
        self,
        sha: str,
        name: str,
        *,
        conclusion: CheckConclusion | None,
        title: str,
        summary: str,
        details_url: str | None = None,
        check_run_id: int | None = None,
    ) -> int:
        """Create (or update `check_run_id`) a check run; None conclusion means in progress."""
        ...

    def set_verdict(
        self,
        sha: str,
        state: CommitState,
        *,
        title: str,
        summary: str,
        text: str = "",
        annotations: Sequence[Annotation] = (),
        details_url: str | None = None,
    ) -> None:
        """Set the policy verdict on `sha`: with an App a check run of its own (with
        annotations), with a token a commit status (the title as its description)."""
        ...

    def get_checks(self, sha: str) -> ChecksSnapshot:
        """Every status and check run of `sha` (all pages); `verdict()` is the bot's own."""
        ...

    def upsert_comment(self, number: int, marker: str, body: str) -> Comment:
        """The bot's one comment carrying `marker`: edited in place, created if missing."""
        ...

    def create_comment(self, number: int, body: str) -> Comment:
        """A new comment."""
        ...

    def list_comments(self, number: int) -> list[Comment]:
        """All comments, oldest first."""
        ...

    def list_reviews(self, number: int) -> list[Review]:
        """All reviews, oldest first."""
        ...

    def is_team_member(self, org: str, team_slug: str, login: str) -> bool:
        """True when `login` is an active member of the team.

        Raises `ForgePermissionError` without the organization Members permission and
        `ForgeTeamNotFoundError` for a team that does not exist or cannot be seen.
        """
        ...

    def collaborator_permission(self, login: str) -> Permission:
        """The user's permission on the repository."""
        ...

    def add_labels(self, number: int, labels: Sequence[str]) -> None:
        """Add labels (existing ones stay)."""
        ...

    def remove_label(self, number: int, label: str) -> None:
        """Remove a label; absent labels are fine."""
        ...

    def merge(
        self,
        number: int,
        *,
        expected_head_sha: str,
        method: MergeMethod = MergeMethod.SQUASH,
        title: str | None = None,
        message: str | None = None,
    ) -> MergeResult:
        """Merge only if the head is still `expected_head_sha`.

        Waits while GitHub computes mergeability and retries its transient 405 ("Base
        branch was modified") a few times. Raises `ForgeHeadMovedError` (409),
        `ForgeMergeBlockedError` (405 from branch protection or a ruleset, with GitHub's
        reason and its kind: do not retry until something changes),
        `ForgeNotMergeableError` (closed or draft) or `ForgeMergePendingError` (GitHub
        still computing; repeat later).
        """
        ...

    def create_deployment(
        self,
        ref: str,
        environment: str,
        *,
        payload: Mapping[str, Any] | None = None,
        description: str = "",
    ) -> DeploymentInfo:
        """Record a deployment of `ref` to `environment` (no auto-merge, no required contexts)."""
        ...

    def set_deployment_status(
        self,
        deployment_id: int,
        state: DeploymentState,
        *,
        description: str = "",
        environment_url: str | None = None,
        log_url: str | None = None,
    ) -> None:
        """Add a status to a deployment."""
        ...

    def open_revert(
        self,
        number: int,
        *,
        labels: Sequence[str] = ("rollback",),
        body: str = "",
        merge: bool = False,
    ) -> RevertResult:
        """A pull request restoring the files of merged promotion `number`; merged on request
        (the merge waits for GitHub's mergeability, as `merge` does)."""
        ...

    def file_history(self, path: str, limit: int) -> list[CommitInfo]:
        """The newest `limit` (at most 100) commits of the default branch that changed
        `path`, newest first."""
        ...

    def installation_permissions(self) -> dict[str, str]:
        """The App installation's granted permissions (`{"contents": "write", ...}`), read
        with the App's JSON web token; a `ForgeError` in token mode."""
        ...

    def fetch_credentials(self) -> GitCredentials:
        """HTTPS credentials for `git fetch` of the repository: the current installation
        token (renewed before it expires) or the token. Never log or store them."""
        ...
