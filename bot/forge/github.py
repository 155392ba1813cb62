"""`GitHubForge`: the `Forge` protocol on PyGithub, for GitHub.com, GHES and the sandbox.

Every public method turns PyGithub's and the network's errors into `ForgeError`s
that say what failed and how to fix it. Retries live in the client (see
`bot.forge.client`); repeating a whole method after an interruption is safe:
pull requests are found by branch, comments by marker, commits by content.
One adapter serves one repository; an App serving several builds one per repository.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from github import GithubException

from bot.domain.layout import PROMOTION_BRANCH_PREFIX
from bot.errors import UserInputError
from bot.forge import contents, idempotent, merging, promotion, revert, teams, verdicts
from bot.forge.base import (
    Annotation,
    BotIdentity,
    BranchHead,
    CheckConclusion,
    ChecksSnapshot,
    Comment,
    CommitInfo,
    CommitState,
    DeploymentInfo,
    DeploymentState,
    Forge,
    GitCredentials,
    MergeMethod,
    MergeResult,
    Permission,
    PromotionPR,
    PullRequestInfo,
    RevertResult,
    Review,
)
from bot.forge.client import (
    InstallationAuth,
    git_credentials,
    installation_permissions,
    make_auth,
    make_github,
)
from bot.forge.comments import list_comments, upsert_comment
from bot.forge.conditional import ConditionalCache
from bot.forge.convert import comment_info, pull_request_info, review_info
from bot.forge.session import RepoSession, clip, flip_draft, guarded, optional
from bot.forge.settings import GitHubSettings

CLOSE_MARKER = "<!-- promobot:closed -->"
STATUS_DESCRIPTION_LIMIT = verdicts.STATUS_DESCRIPTION_LIMIT


class GitHubForge:
    """The one real `Forge`. Build it from `GitHubSettings`; close it when done.

    `repository` and `installation_id` default to the settings'; without an installation
    id an App's installation is looked up for the repository.
    """

    def __init__(
        self,
        settings: GitHubSettings,
        *,
        repository: str | None = None,
        installation_id: int | None = None,
    ) -> None:
        name = repository or settings.repository
        if name is None:
            raise UserInputError(
                "github: no repository to act on",
                hint="set `github.repository`, or build the adapter for one repository",
            )
        self._settings = settings
        self._auth = make_auth(settings, installation_id=installation_id, repository=name)
        self.cache = ConditionalCache(settings.conditional_cache_entries)
        self._gh = make_github(settings, self._auth, self.cache)
        self._session = RepoSession(self._gh, settings, name)

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

    @property
    def bot(self) -> BotIdentity:
        return BotIdentity(
            login=self._settings.bot_login,
            app_id=self._settings.app_id,
            verdict_name=self._settings.status_context,
        )

    @property
    def repository(self) -> str:
        return self._session.repository

    @guarded("read the default branch")
    def default_branch(self) -> BranchHead:
        name = self._session.default_branch_name()
        sha, _ = self._session.branch_commit(name)
        return BranchHead(name=name, sha=sha)

    @guarded("read a file")
    def read_file(self, path: str, ref: str | None = None) -> str | None:
        return contents.read_file(self._session, path, ref)

    @guarded("list files")
    def list_files(self, path: str, ref: str | None = None) -> list[str]:
        return contents.list_files(self._session, path, ref)

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
        extra_files: Mapping[str, str] | None = None,
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
            extra_files=tuple(sorted((extra_files or {}).items())),
        )
        return promotion.open_or_update(self._session, change, flip_draft)

    @guarded("bring the promotion branch up to date")
    def update_promotion_branch(
        self, number: int, *, expected_head_sha: str | None = None
    ) -> PromotionPR:
        return promotion.update_promotion_branch(self._session, number, expected_head_sha)

    @guarded("wait for GitHub's mergeability")
    def wait_mergeable(self, number: int, timeout: float | None = None) -> PullRequestInfo:
        wait = self._settings.mergeability_timeout_seconds if timeout is None else timeout
        return pull_request_info(merging.wait_mergeable(self._session, number, wait))

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
            upsert_comment(self._session, issue, marker=CLOSE_MARKER, body=comment)
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
        verdicts.set_status(
            self._session,
            sha,
            state,
            description,
            context=context or self._settings.status_context,
            target_url=target_url,
        )

    @guarded("set the policy verdict")
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
        name = self._settings.status_context
        if not self._settings.uses_app:
            verdicts.set_status(
                self._session, sha, state, title, context=name, target_url=details_url
            )
            return
        verdicts.set_check_verdict(
            self._session,
            sha,
            name,
            state,
            output=verdicts.check_output(title, summary, text),
            annotations=annotations,
            details_url=details_url,
        )

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
        return verdicts.set_check_run(
            self._session,
            sha,
            name,
            conclusion=conclusion,
            output=verdicts.check_output(title, summary, ""),
            details_url=details_url,
            check_run_id=check_run_id,
        )

    @guarded("read the checks")
    def get_checks(self, sha: str) -> ChecksSnapshot:
        return verdicts.read_checks(self._session, sha, self.bot)

    @guarded("write the bot's comment")
    def upsert_comment(self, number: int, marker: str, body: str) -> Comment:
        issue = self._session.repo.get_issue(number)
        return upsert_comment(self._session, issue, marker=marker, body=body)

    @guarded("comment")
    def create_comment(self, number: int, body: str) -> Comment:
        issue = self._session.repo.get_issue(number)
        return comment_info(idempotent.create_comment(self._session, issue, body))

    @guarded("list comments")
    def list_comments(self, number: int) -> list[Comment]:
        return list_comments(self._session.repo.get_issue(number))

    @guarded("list reviews")
    def list_reviews(self, number: int) -> list[Review]:
        pull = self._session.repo.get_pull(number)
        return [review_info(review) for review in pull.get_reviews()]

    @guarded("read a team membership")
    def is_team_member(self, org: str, team_slug: str, login: str) -> bool:
        return teams.is_team_member(self._gh, org, team_slug, login)

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
        return merging.merge(
            self._session,
            number,
            expected_head_sha=expected_head_sha,
            method=method,
            title=title,
            message=message,
        )

    @guarded("create a deployment")
    def create_deployment(
        self,
        ref: str,
        environment: str,
        *,
        payload: Mapping[str, Any] | None = None,
        description: str = "",
    ) -> DeploymentInfo:
        deployment = idempotent.create_deployment(
            self._session,
            ref=ref,
            environment=environment,
            payload=payload or {},
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
        return revert.merge_revert(pull, merge=self.merge, update=self.update_promotion_branch)

    @guarded("read the history of a file")
    def file_history(self, path: str, limit: int) -> list[CommitInfo]:
        # https://docs.github.com/en/rest/commits/commits#list-commits (`sha`, `path`, one page)
        branch = self._session.default_branch_name()
        per_page = max(1, min(limit, 100))
        found = self._session.api(
            "GET", "/commits", params={"sha": branch, "path": path, "per_page": per_page}
        )
        return [
            CommitInfo(
                sha=str(commit["sha"]),
                message=str(commit["commit"]["message"]),
                committed_at=dt.datetime.fromisoformat(
                    str(commit["commit"]["committer"]["date"]).replace("Z", "+00:00")
                ),
            )
            for commit in (found or [])[:per_page]
        ]

    @guarded("read the installation's permissions")
    def installation_permissions(self) -> dict[str, str]:
        return installation_permissions(self._auth)

    @guarded("get credentials for git")
    def fetch_credentials(self) -> GitCredentials:
        return git_credentials(self._settings, self._auth)


if TYPE_CHECKING:
    # mypy checks here that the adapter implements the whole protocol.
    _CONFORMS: type[Forge] = GitHubForge
