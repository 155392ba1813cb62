"""`GitHubForge`: the `Forge` protocol on PyGithub, for GitHub.com, GHES and the sandbox.

Every public method turns PyGithub's and the network's errors into `ForgeError`s
that say what failed and how to fix it. Retries live in the client (see
`bot.forge.client`); repeating a whole method after an interruption is safe:
pull requests are found by branch, comments by marker, commits by content.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from github import GithubException
from github.GithubObject import NotSet, Opt

from bot.domain.layout import PROMOTION_BRANCH_PREFIX
from bot.forge import promotion, revert
from bot.forge.base import (
    BranchHead,
    CheckConclusion,
    ChecksSnapshot,
    Comment,
    CommitState,
    DeploymentInfo,
    DeploymentState,
    Forge,
    ForgeHeadMovedError,
    ForgeNotMergeableError,
    MergeMethod,
    MergeResult,
    Permission,
    PromotionPR,
    PullRequestInfo,
    RevertResult,
    Review,
)
from bot.forge.client import InstallationAuth, make_auth, make_github
from bot.forge.comments import list_comments, upsert_comment
from bot.forge.convert import checks_snapshot, comment_info, pull_request_info, review_info
from bot.forge.session import (
    RepoSession,
    clip,
    flip_draft,
    github_message,
    guarded,
    optional,
)
from bot.forge.settings import GitHubSettings

CLOSE_MARKER = "<!-- promobot:closed -->"
STATUS_DESCRIPTION_LIMIT = 140
CHECK_TEXT_LIMIT = 65_000


class GitHubForge:
    """The one real `Forge`. Build it from `GitHubSettings`; close it when done."""

    def __init__(self, settings: GitHubSettings) -> None:
        self._settings = settings
        self._auth = make_auth(settings)
        self._gh = make_github(settings, self._auth)
        self._session = RepoSession(self._gh, settings)

    def close(self) -> None:
        """Release the HTTP connections, the token fetcher's too."""
        self._gh.close()
        if isinstance(self._auth, InstallationAuth):
            self._auth.close()

    def __enter__(self) -> GitHubForge:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    @property
    def bot_login(self) -> str:
        return self._settings.bot_login

    @guarded("read the default branch")
    def default_branch(self) -> BranchHead:
        name = self._session.default_branch_name()
        sha, _ = self._session.branch_commit(name)
        return BranchHead(name=name, sha=sha)

    @guarded("read a file")
    def read_file(self, path: str, ref: str | None = None) -> str | None:
        at = ref or self._session.default_branch_name()
        try:
            content = self._session.repo.get_contents(path, ref=at)
        except GithubException as error:
            if error.status == 404:
                return None
            raise
        if isinstance(content, list):
            return None
        return content.decoded_content.decode("utf-8")

    @guarded("list files")
    def list_files(self, path: str, ref: str | None = None) -> list[str]:
        at = ref or self._session.default_branch_name()
        found: list[str] = []
        pending = [path.rstrip("/")]
        while pending:
            try:
                listing = self._session.repo.get_contents(pending.pop(), ref=at)
            except GithubException as error:
                if error.status == 404:
                    continue
                raise
            for item in listing if isinstance(listing, list) else [listing]:
                if item.type == "dir":
                    pending.append(item.path)
                elif item.type == "file":
                    found.append(item.path)
        return sorted(found)

    @guarded("open or update the promotion pull request")
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
    ) -> PromotionPR:
        change = promotion.PromotionChange(
            model=model,
            environment=environment,
            manifest_path=manifest_path,
            manifest_text=manifest_text,
            title=title,
            body=body,
            labels=tuple(labels),
            reviewers=tuple(reviewers),
            team_reviewers=tuple(team_reviewers),
            draft=draft,
        )
        return promotion.open_or_update(self._session, change, flip_draft)

    @guarded("change the draft state")
    def set_draft(self, number: int, draft: bool) -> PullRequestInfo:
        pull = self._session.repo.get_pull(number)
        if bool(pull.draft) != draft:
            flip_draft(pull, draft)
        return pull_request_info(pull).model_copy(update={"draft": draft})

    @guarded("close the pull request")
    def close_pull_request(self, number: int, comment: str | None = None) -> PullRequestInfo:
        if comment:
            issue = self._session.repo.get_issue(number)
            upsert_comment(issue, marker=CLOSE_MARKER, body=comment, bot_login=self.bot_login)
        pull = self._session.repo.get_pull(number)
        pull.edit(state="closed")
        return pull_request_info(pull)

    @guarded("read the pull request")
    def get_pull_request(self, number: int, *, with_files: bool = True) -> PullRequestInfo:
        pull = self._session.repo.get_pull(number)
        files = tuple(item.filename for item in pull.get_files()) if with_files else None
        return pull_request_info(pull, files=files)

    @guarded("list the promotion pull requests")
    def list_promotion_pull_requests(self) -> list[PullRequestInfo]:
        pulls = self._session.repo.get_pulls(state="open", sort="created", direction="asc")
        return [
            pull_request_info(pull)
            for pull in pulls
            if pull.head.ref.startswith(PROMOTION_BRANCH_PREFIX)
        ]

    @guarded("set the commit status")
    def set_commit_status(
        self,
        sha: str,
        state: CommitState,
        description: str,
        *,
        target_url: str | None = None,
        context: str | None = None,
    ) -> None:
        body: dict[str, Any] = {
            "state": state.value,
            "description": clip(description, STATUS_DESCRIPTION_LIMIT),
            "context": context or self._settings.status_context,
        }
        if target_url:
            body["target_url"] = target_url
        self._session.api("POST", f"/statuses/{sha}", body)

    @guarded("set the check run")
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
        output: dict[str, str | list[dict[str, str | int]]] = {
            "title": title,
            "summary": clip(summary, CHECK_TEXT_LIMIT),
        }
        status = "in_progress" if conclusion is None else "completed"
        finished: Opt[str] = NotSet if conclusion is None else conclusion.value
        if check_run_id is not None:
            run = self._session.repo.get_check_run(check_run_id)
            run.edit(
                status=status, conclusion=finished, output=output, details_url=optional(details_url)
            )
            return check_run_id
        created = self._session.repo.create_check_run(
            name=name,
            head_sha=sha,
            status=status,
            conclusion=finished,
            output=output,
            details_url=optional(details_url),
        )
        return int(created.id)

    @guarded("read the checks")
    def get_checks(self, sha: str) -> ChecksSnapshot:
        combined = self._session.api("GET", f"/commits/{sha}/status", params={"per_page": 100})
        runs = self._session.api("GET", f"/commits/{sha}/check-runs", params={"per_page": 100})
        return checks_snapshot(sha, combined, list(runs.get("check_runs", [])))

    @guarded("write the bot's comment")
    def upsert_comment(self, number: int, marker: str, body: str) -> Comment:
        issue = self._session.repo.get_issue(number)
        return upsert_comment(issue, marker=marker, body=body, bot_login=self.bot_login)

    @guarded("comment")
    def create_comment(self, number: int, body: str) -> Comment:
        return comment_info(self._session.repo.get_issue(number).create_comment(body))

    @guarded("list comments")
    def list_comments(self, number: int) -> list[Comment]:
        return list_comments(self._session.repo.get_issue(number))

    @guarded("list reviews")
    def list_reviews(self, number: int) -> list[Review]:
        pull = self._session.repo.get_pull(number)
        return [review_info(review) for review in pull.get_reviews()]

    @guarded("read a team membership")
    def is_team_member(self, org: str, team_slug: str, login: str) -> bool:
        team = self._gh.get_organization(org).get_team_by_slug(team_slug)
        try:
            membership = team.get_team_membership(login)
        except GithubException as error:
            if error.status == 404:
                return False
            raise
        return membership.state == "active"

    @guarded("read a collaborator's permission")
    def collaborator_permission(self, login: str) -> Permission:
        try:
            value = self._session.repo.get_collaborator_permission(login)
        except GithubException as error:
            if error.status == 404:
                return Permission.NONE
            raise
        try:
            return Permission(value)
        except ValueError:
            return Permission.NONE

    @guarded("add labels")
    def add_labels(self, number: int, labels: Sequence[str]) -> None:
        if labels:
            self._session.repo.get_issue(number).add_to_labels(*labels)

    @guarded("remove a label")
    def remove_label(self, number: int, label: str) -> None:
        try:
            self._session.repo.get_issue(number).remove_from_labels(label)
        except GithubException as error:
            if error.status != 404:
                raise

    @guarded("merge the pull request")
    def merge(
        self,
        number: int,
        *,
        expected_head_sha: str,
        method: MergeMethod = MergeMethod.SQUASH,
        title: str | None = None,
        message: str | None = None,
    ) -> MergeResult:
        pull = self._session.repo.get_pull(number)
        try:
            status = pull.merge(
                commit_message=optional(message),
                commit_title=optional(title),
                merge_method=method.value,
                sha=expected_head_sha,
            )
        except GithubException as error:
            return self._merge_refused(number, expected_head_sha, error)
        return MergeResult(sha=str(status.sha), message=str(status.message))

    def _merge_refused(self, number: int, expected: str, error: GithubException) -> MergeResult:
        if error.status == 409:
            raise ForgeHeadMovedError(
                f"#{number} was not merged: its head moved after {expected[:7]} was checked "
                f"({github_message(error)})",
                hint="recompute merge readiness for the new head",
            ) from error
        if error.status != 405:
            raise error
        current = self._session.repo.get_pull(number)
        if current.merged and current.head.sha == expected:
            # A retried merge whose first attempt went through.
            return MergeResult(sha=str(current.merge_commit_sha), message="already merged")
        raise ForgeNotMergeableError(
            f"#{number} is not mergeable: {github_message(error)}",
            hint="resolve conflicts, leave draft, or satisfy the branch protection rules",
        ) from error

    @guarded("create a deployment")
    def create_deployment(
        self,
        ref: str,
        environment: str,
        *,
        payload: Mapping[str, Any] | None = None,
        description: str = "",
    ) -> DeploymentInfo:
        deployment = self._session.repo.create_deployment(
            ref=ref,
            task="deploy",
            auto_merge=False,
            required_contexts=[],
            payload=dict(payload or {}),
            environment=environment,
            description=clip(description, STATUS_DESCRIPTION_LIMIT),
        )
        return DeploymentInfo(
            id=deployment.id, ref=deployment.ref, sha=deployment.sha, environment=environment
        )

    @guarded("set a deployment status")
    def set_deployment_status(
        self,
        deployment_id: int,
        state: DeploymentState,
        *,
        description: str = "",
        environment_url: str | None = None,
        log_url: str | None = None,
    ) -> None:
        deployment = self._session.repo.get_deployment(deployment_id)
        deployment.create_status(
            state.value,
            target_url=optional(log_url),
            description=clip(description, STATUS_DESCRIPTION_LIMIT),
            environment_url=optional(environment_url),
        )

    @guarded("open the revert pull request")
    def open_revert(
        self,
        number: int,
        *,
        labels: Sequence[str] = ("rollback",),
        body: str = "",
        merge: bool = False,
    ) -> RevertResult:
        merger = self._merge_revert if merge else None
        return revert.open_revert(self._session, number, labels=labels, body=body, merge=merger)

    def _merge_revert(self, pull: PullRequestInfo) -> MergeResult:
        return self.merge(pull.number, expected_head_sha=pull.head_sha, title=pull.title)


if TYPE_CHECKING:
    # mypy checks here that the adapter implements the whole protocol.
    _CONFORMS: type[Forge] = GitHubForge
