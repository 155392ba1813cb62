"""`MemoryForge`: the `Forge` protocol in memory, for tests of workflow decisions.

It behaves as `GitHubForge` does against the strict sandbox GitHub, as far as a workflow
can see: real commits of a small in-memory tree (`tests/support/memory_git.py`), the
bot's one-commit promotion branches, pull requests whose head follows their branch,
mergeability that is null until computed, squash merges guarded by the head SHA, branch
protection, reviews, comments, statuses and check runs by their creators, teams,
permissions, deployments, reverts and App tokens. `tests/forge/test_contract.py` runs
the same tests over both. What only HTTP has (retries, ETags, rate limits, pages) is not
imitated. Errors carry the adapter's messages, so workflows report the same words.

    github = MemoryGitHub(content={...})
    forge = MemoryForge(github)                     # the App, as the bot runs in production
    github.review("carol", number)                  # what people do goes through `github`
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr

from bot.domain.layout import PROMOTION_BRANCH_PREFIX
from bot.errors import ForgeError
from bot.forge.base import (
    Annotation,
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
    Forge,
    ForgeDraftsRefusedError,
    ForgeMergeBlockedError,
    ForgeNothingToChangeError,
    ForgePermissionError,
    ForgeTeamNotFoundError,
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
from bot.forge.gitauth import TOKEN_USERNAME
from bot.forge.markers import (
    bot_section,
    commit_message,
    content_digest,
    with_marker,
)
from bot.forge.merging import HINTS, classify
from bot.forge.permissions import Level, describe_need, need_of
from bot.forge.promotion import PromotionChange, reviewers_to_request
from tests.support import memory_merges
from tests.support.memory_git import Commit, tree_sha
from tests.support.memory_github import (
    APP_LOGIN,
    CheckRunRecord,
    CommentRecord,
    DeploymentRecord,
    MemoryGitHub,
    PullRecord,
    StatusRecord,
)

CLOSE_MARKER = "<!-- promobot:closed -->"
STATUS_DESCRIPTION_LIMIT = 140
CHECK_TEXT_LIMIT = 65_535
CONCLUSIONS = {
    CommitState.SUCCESS: "success",
    CommitState.FAILURE: "failure",
    CommitState.ERROR: "failure",
}
NOT_COLLABORATOR = (
    "Reviews may only be requested from collaborators. One or more of the users or teams "
    "you specified is not a collaborator of the {repository} repository."
)
_tokens = itertools.count(1)


def clip(text: str, limit: int) -> str:
    """GitHub's field limits, shortened as the adapter shortens them."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def refused(action: str, status: int, message: str) -> ForgeError:
    """The `ForgeError` the adapter makes of GitHub's refusal."""
    hint = {
        401: "check the token or the App's id, key and installation id",
        403: "give the token's user write access to the repository",
        404: "check `github.repository` and that the token can see it",
    }.get(status, "the operation is safe to repeat")
    return ForgeError(f"GitHub refused to {action} (HTTP {status}): {message}", hint=hint)


class MemoryForge:
    """The bot on a `MemoryGitHub`: its App (default) or, with `token_login`, a user's token.

    `commit_name` and `commit_email` are the token mode's configured commit identity.
    """

    def __init__(
        self,
        github: MemoryGitHub,
        *,
        token_login: str | None = None,
        status_context: str = "promobot/policy",
        commit_name: str | None = None,
        commit_email: str | None = None,
        token_refresh_margin_seconds: float = 60,
    ) -> None:
        self.github = github
        self.git = github.git
        self._token_login = token_login
        self._context = status_context
        self._identity = (commit_name, commit_email)
        self._margin = dt.timedelta(seconds=token_refresh_margin_seconds)
        self._token: tuple[str, dt.datetime] | None = None

    # --- who and where -----------------------------------------------------------------------

    @property
    def bot_login(self) -> str:
        return self._token_login or APP_LOGIN

    @property
    def bot(self) -> BotIdentity:
        app_id = None if self._token_login else self.github.app_id
        return BotIdentity(login=self.bot_login, app_id=app_id, verdict_name=self._context)

    @property
    def repository(self) -> str:
        return self.github.repository

    @property
    def uses_app(self) -> bool:
        return self._token_login is None

    def _call(self, action: str, *needs: tuple[str, Level]) -> None:
        """Count the request and refuse it as GitHub does without the permission."""
        self.github.requests.append(action)
        for name, level in needs:
            if self.uses_app:
                granted = Level.parse(self.github.app_permissions.get(name))
                if granted < level:
                    raise ForgePermissionError(
                        f"GitHub refused to {action} (HTTP 403): Resource not accessible by "
                        "integration",
                        permission=name,
                        hint=f"the App needs the permission {describe_need(need_of(name))}",
                    )
            elif level is Level.WRITE and not self.github.permission(self.bot_login).can_write:
                raise refused(
                    action, 403, f"Must have write access to repository {self.repository}."
                )

    def _pull(self, number: int, action: str) -> PullRecord:
        pr = self.github.pull(number)
        if pr is None:
            raise refused(action, 404, "Not Found")
        return pr

    def _commit(self, files: Mapping[str, str], parent: str, message: str) -> Commit:
        """A bot commit: an App's is the App bot's and signed; a token's its user's, or the
        configured identity's."""
        if self.uses_app:
            person = self.github.bot_person()
            return self.git.commit(files, (parent,), message, person, verified=True)
        name, email = self._identity
        if name is not None and email is not None:
            person = self.github.person_by_email(name, email)
        else:
            person = self.github.person(self.bot_login)
        return self.git.commit(files, (parent,), message, person)

    # --- files -------------------------------------------------------------------------------

    def default_branch(self) -> BranchHead:
        self._call("read the default branch", ("contents", Level.READ))
        name = self.github.default_branch
        return BranchHead(name=name, sha=self.git.branches[name])

    def read_file(self, path: str, ref: str | None = None) -> str | None:
        self._call("read a file", ("contents", Level.READ))
        return self.github.file_at(ref or self.github.default_branch, path)

    def list_files(self, path: str, ref: str | None = None) -> list[str]:
        self._call("list files", ("contents", Level.READ))
        files = self.git.files_at(ref or self.github.default_branch) or {}
        folder = path.rstrip("/")
        return sorted(p for p in files if p == folder or p.startswith(f"{folder}/"))

    # --- the promotion pull request ----------------------------------------------------------

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
        action = "open or update the promotion pull request"
        self._call(action, ("contents", Level.WRITE), ("pull_requests", Level.WRITE))
        change = PromotionChange(
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
        base = self.github.default_branch
        base_commit = self.git.commits[self.git.branches[base]]
        files = {**base_commit.files, manifest_path: manifest_text, **dict(change.extra_files)}
        if tree_sha(files) == base_commit.tree:
            raise ForgeNothingToChangeError(
                f"{manifest_path} on {base} already has this content; nothing to promote",
                hint="the version is already what the default branch says",
            )
        digest = content_digest(manifest_path, manifest_text)
        message = commit_message(title, change.branch, digest)
        commit = self._commit(files, base_commit.sha, message).sha
        if change.branch not in self.git.branches:
            self.git.branches[change.branch] = commit
            return self._open_pull(change, commit, action)
        return memory_merges.update_promotion(self, change, commit, digest, action)

    def _open_pull(self, change: PromotionChange, commit: str, action: str) -> PromotionPR:
        existing = self.find_open_pull(change.branch)
        if existing is None:
            existing = self.create_pull(
                change.branch, change.title, change.body, change.draft, action
            )
        self.github.start_mergeability(existing)
        self._add_labels(existing, change.labels)
        reviewers = reviewers_to_request(change, self.bot_login)
        problems = self.request_reviews(existing, reviewers, change.team_reviewers)
        info = self.github.pull_info(existing)
        return PromotionPR(
            outcome=PromotionOutcome.CREATED,
            pull_request=info,
            branch=change.branch,
            commit_sha=commit,
            detail=f"opened #{info.number} from {change.branch} at {commit[:7]}",
            review_problems=problems,
        )

    def create_pull(
        self, branch: str, title: str, body: str, draft: bool, action: str
    ) -> PullRecord:
        """Open a pull request from `branch` into the default branch; `body` is the bot's."""
        if draft and not self.github.drafts_allowed:
            raise self.drafts_refused(action)
        number = len(self.github.pulls) + 1
        base = self.github.default_branch
        pr = PullRecord(
            number=number,
            title=title,
            body=bot_section(body),
            author=self.bot_login,
            head_ref=branch,
            head_sha=self.git.branches[branch],
            base_ref=base,
            base_sha=self.git.branches[base],
            draft=draft,
        )
        self.github.pulls[number] = pr
        return pr

    def drafts_refused(self, action: str) -> ForgeDraftsRefusedError:
        return ForgeDraftsRefusedError(
            f"GitHub refused to {action}: Draft pull requests are not supported in this "
            "repository.",
            hint="drafts need GitHub Team or Enterprise in a private repository; open a "
            "plain pull request instead",
        )

    def find_open_pull(self, branch: str) -> PullRecord | None:
        return next(
            (
                p
                for p in self.github.pulls.values()
                if p.state is PullState.OPEN and p.head_ref == branch
            ),
            None,
        )

    def request_reviews(
        self, pr: PullRecord, reviewers: Sequence[str], teams: Sequence[str]
    ) -> tuple[ReviewRequestProblem, ...]:
        """Ask for reviews; each request GitHub would refuse is a problem, the rest are asked."""
        problems: list[ReviewRequestProblem] = []
        repository = self.repository
        for login in reviewers:
            if self.github.is_collaborator(login):
                pr.requested_reviewers += [login] if login not in pr.requested_reviewers else []
                continue
            problems.append(
                ReviewRequestProblem(
                    reviewers=(login,),
                    teams=(),
                    message=NOT_COLLABORATOR.format(repository=repository),
                    hint=f"make {login} a collaborator of {repository} (read access or more)",
                )
            )
        for slug in teams:
            team = self.github.teams.get(slug)
            if team is not None and self._sees_teams() and team.has_access:
                pr.requested_teams += [slug] if slug not in pr.requested_teams else []
                continue
            message = (
                NOT_COLLABORATOR.format(repository=repository)
                if team is not None and self._sees_teams()
                else f"Could not resolve to a node with the global id of 'T_{slug}'."
            )
            problems.append(
                ReviewRequestProblem(
                    reviewers=(),
                    teams=(slug,),
                    message=message,
                    hint=f"give the team {self.github.owner}/{slug} at least read access to "
                    f"{repository}, and the App the organization permission Members: read",
                )
            )
        return tuple(problems)

    def _sees_teams(self) -> bool:
        if self.uses_app:
            return Level.parse(self.github.app_permissions.get("members")) >= Level.READ
        return self.bot_login in self.github.org_members

    def update_promotion_branch(
        self, number: int, *, expected_head_sha: str | None = None
    ) -> PromotionPR:
        action = "bring the promotion branch up to date"
        self._call(action, ("contents", Level.WRITE))
        return memory_merges.update_branch(self, self._pull(number, action), expected_head_sha)

    def wait_mergeable(self, number: int, timeout: float | None = None) -> PullRequestInfo:
        action = "wait for GitHub's mergeability"
        self._call(action, ("pull_requests", Level.READ))
        pr = self._pull(number, action)
        if timeout == 0:
            self.github.read_pull(pr)
        else:
            self.github.finish_mergeability(pr)
        return self.github.pull_info(pr)

    def set_draft(self, number: int, draft: bool) -> PullRequestInfo:
        action = "change the draft state"
        self._call(action, ("pull_requests", Level.WRITE))
        pr = self._pull(number, action)
        self.flip_draft(pr, draft, action)
        return self.github.pull_info(pr)

    def flip_draft(self, pr: PullRecord, draft: bool, action: str) -> None:
        if pr.draft != draft:
            if not self.github.drafts_allowed:
                raise self.drafts_refused(action)
            if pr.state is PullState.OPEN:
                pr.draft = draft

    def close_pull_request(self, number: int, comment: str | None = None) -> PullRequestInfo:
        action = "close the pull request"
        self._call(action, ("pull_requests", Level.WRITE))
        pr = self._pull(number, action)
        if comment:
            self.upsert(pr.number, CLOSE_MARKER, comment)
        if pr.state is PullState.OPEN:
            pr.head_sha, pr.base_sha = self.github.head_of(pr), self.github.base_of(pr)
            pr.state = PullState.CLOSED
        return self.github.pull_info(pr)

    def get_pull_request(self, number: int, *, with_files: bool = True) -> PullRequestInfo:
        action = "read the pull request"
        self._call(action, ("pull_requests", Level.READ))
        pr = self._pull(number, action)
        self.github.read_pull(pr)
        files = self.github.changed_files(pr) if with_files else None
        return self.github.pull_info(pr, files)

    def list_promotion_pull_requests(self) -> list[PullRequestInfo]:
        self._call("list the promotion pull requests", ("pull_requests", Level.READ))
        return [
            self.github.pull_info(pr)
            for pr in self.github.pulls.values()
            if pr.state is PullState.OPEN and pr.head_ref.startswith(PROMOTION_BRANCH_PREFIX)
        ]

    # --- statuses, check runs and the verdict -----------------------------------------------

    def set_commit_status(
        self,
        sha: str,
        state: CommitState,
        description: str,
        *,
        target_url: str | None = None,
        context: str | None = None,
    ) -> None:
        action = "set the commit status"
        self._call(action, ("statuses", Level.WRITE))
        self._status(sha, state, description, context or self._context, target_url, action)

    def _status(
        self,
        sha: str,
        state: CommitState,
        description: str,
        context: str,
        target_url: str | None,
        action: str,
    ) -> None:
        self._require_commit(sha, action)
        text = clip(description, STATUS_DESCRIPTION_LIMIT)
        self.github.statuses.append(
            StatusRecord(
                self.github.next_id(), sha, context, state, text, target_url or None, self.bot_login
            )
        )

    def _require_commit(self, sha: str, action: str) -> None:
        if sha not in self.git.commits:
            raise refused(action, 422, f"No commit found for SHA: {sha}")

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
        action = "set the check run"
        self._call(action, ("checks", Level.WRITE))
        status = "in_progress" if conclusion is None else "completed"
        value = None if conclusion is None else conclusion.value
        output = {"title": title, "summary": clip(summary, CHECK_TEXT_LIMIT)}
        run = (
            self._new_run(sha, name, status, value, output, action)
            if check_run_id is None
            else self._own_run(check_run_id, action)
        )
        run.status, run.conclusion, run.output = status, value, output
        run.details_url = details_url or run.details_url
        return run.id

    def _own_run(self, run_id: int, action: str) -> CheckRunRecord:
        run = self.github.check_runs.get(run_id)
        if run is None:
            raise refused(action, 404, "Not Found")
        if not self.uses_app or run.app_id != self.github.app_id:
            raise refused(
                action, 403, "Invalid app_id: only the app that created a check run may update it."
            )
        return run

    def _new_run(
        self,
        sha: str,
        name: str,
        status: str,
        conclusion: str | None,
        output: dict[str, Any],
        action: str,
    ) -> CheckRunRecord:
        if not self.uses_app:
            raise refused(
                action,
                403,
                "You must authenticate via a GitHub App to create or update check runs.",
            )
        self._require_commit(sha, action)
        run = CheckRunRecord(
            self.github.next_id(),
            sha,
            name,
            self.github.app_id,
            self.github.app_slug,
            status,
            conclusion,
            output,
        )
        self.github.check_runs[run.id] = run
        return run

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
        action = "set the policy verdict"
        if not self.uses_app:
            self._call(action, ("statuses", Level.WRITE))
            self._status(sha, state, title, self._context, details_url, action)
            return
        self._call(action, ("checks", Level.WRITE))
        output: dict[str, Any] = {"title": title, "summary": summary}
        if text:
            output["text"] = clip(text, CHECK_TEXT_LIMIT)
        if state is CommitState.PENDING:
            run = self._new_run(sha, self._context, "in_progress", None, output, action)
        else:
            run = self._new_run(sha, self._context, "completed", CONCLUSIONS[state], output, action)
        run.annotations = [note.model_dump(mode="json") for note in annotations]
        run.details_url = details_url

    def get_checks(self, sha: str) -> ChecksSnapshot:
        self._call("read the checks", ("checks", Level.READ), ("statuses", Level.READ))
        latest_status: dict[tuple[str, str], StatusRecord] = {}
        for status in self.github.statuses:
            if status.sha == sha:
                latest_status[(status.context, status.creator.lower())] = status
        latest_run: dict[tuple[str, int], CheckRunRecord] = {}
        for run in self.github.check_runs.values():
            if run.sha == sha:
                latest_run[(run.name, run.app_id)] = run
        statuses = sorted(latest_status.values(), key=lambda s: s.id)
        by_context = {s.context: s.state for s in statuses}
        states = set(by_context.values())
        if states & {CommitState.FAILURE, CommitState.ERROR}:
            combined = CommitState.FAILURE
        elif not states or CommitState.PENDING in states:
            combined = CommitState.PENDING
        else:
            combined = CommitState.SUCCESS
        return ChecksSnapshot(
            sha=sha,
            combined_state=combined,
            statuses=tuple(
                StatusInfo(
                    context=s.context,
                    state=s.state,
                    description=s.description,
                    target_url=s.target_url,
                    id=s.id,
                    creator=s.creator,
                )
                for s in statuses
            ),
            check_runs=tuple(
                CheckRunInfo(
                    id=r.id,
                    name=r.name,
                    status=r.status,
                    conclusion=r.conclusion,
                    app_id=r.app_id,
                    app_slug=r.app_slug,
                )
                for r in sorted(latest_run.values(), key=lambda r: r.id)
            ),
            bot=self.bot,
        )

    # --- the conversation --------------------------------------------------------------------

    def upsert_comment(self, number: int, marker: str, body: str) -> Comment:
        action = "write the bot's comment"
        self._call(action, ("issues", Level.WRITE))
        self._pull(number, action)
        return self.upsert(number, marker, body)

    def upsert(self, number: int, marker: str, body: str) -> Comment:
        text = with_marker(marker, body)
        for record in self.github.comments.get(number, []):
            if record.user == self.bot_login and marker in record.body:
                if record.body != text:
                    record.body, record.updated_at = text, self.github.clock()
                return comment_info(record)
        return comment_info(self.github.comment(self.bot_login, number, text))

    def create_comment(self, number: int, body: str) -> Comment:
        action = "comment"
        self._call(action, ("issues", Level.WRITE))
        self._pull(number, action)
        return comment_info(self.github.comment(self.bot_login, number, body))

    def list_comments(self, number: int) -> list[Comment]:
        action = "list comments"
        self._call(action, ("issues", Level.READ))
        self._pull(number, action)
        return [comment_info(c) for c in self.github.comments.get(number, [])]

    def list_reviews(self, number: int) -> list[Review]:
        action = "list reviews"
        self._call(action, ("pull_requests", Level.READ))
        self._pull(number, action)
        return list(self.github.reviews.get(number, []))

    def is_team_member(self, org: str, team_slug: str, login: str) -> bool:
        action = "read a team membership"
        self._call(action, ("members", Level.READ))
        team = (
            self.github.teams.get(team_slug) if org.lower() == self.github.owner.lower() else None
        )
        if team is None or not self._sees_teams():
            raise ForgeTeamNotFoundError(
                f"the team {org}/{team_slug} does not exist, or promobot cannot see it",
                hint="check the team slugs under `approval.teams` in the policy; an App needs "
                f"the organization permission Members: read and an installation on {org}",
            )
        return login in team.members | team.maintainers

    def collaborator_permission(self, login: str) -> Permission:
        self._call("read a collaborator's permission", ("metadata", Level.READ))
        legacy = {Permission.MAINTAIN: Permission.WRITE, Permission.TRIAGE: Permission.READ}
        permission = self.github.permission(login)
        return legacy.get(permission, permission)

    def add_labels(self, number: int, labels: Sequence[str]) -> None:
        action = "add labels"
        self._call(action, ("issues", Level.WRITE))
        self._add_labels(self._pull(number, action), labels)

    def _add_labels(self, pr: PullRecord, labels: Sequence[str]) -> None:
        pr.labels += [label for label in dict.fromkeys(labels) if label not in pr.labels]

    def remove_label(self, number: int, label: str) -> None:
        action = "remove a label"
        self._call(action, ("issues", Level.WRITE))
        pr = self._pull(number, action)
        pr.labels = [name for name in pr.labels if name != label]

    # --- merging, deployments, reverts --------------------------------------------------------

    def merge(
        self,
        number: int,
        *,
        expected_head_sha: str,
        method: MergeMethod = MergeMethod.SQUASH,
        title: str | None = None,
        message: str | None = None,
    ) -> MergeResult:
        action = "merge the pull request"
        self._call(action, ("contents", Level.WRITE))
        pr = self._pull(number, action)
        return memory_merges.merge(self, pr, expected_head_sha, method, title, message)

    def blocked(
        self, pr: PullRecord, reason: str, kind: MergeBlock | None = None
    ) -> ForgeMergeBlockedError:
        found = classify(reason) if kind is None else kind
        return ForgeMergeBlockedError(
            f"#{pr.number} is not mergeable: {reason}",
            reason=reason,
            kind=found,
            hint=HINTS[found].format(base=pr.base_ref),
        )

    def create_deployment(
        self,
        ref: str,
        environment: str,
        *,
        payload: Mapping[str, Any] | None = None,
        description: str = "",
    ) -> DeploymentInfo:
        action = "create a deployment"
        self._call(action, ("deployments", Level.WRITE))
        sha = self.git.resolve(ref)
        if sha is None:
            raise refused(action, 422, f"No ref found for: {ref}")
        record = DeploymentRecord(
            id=self.github.next_id(),
            ref=ref,
            sha=sha,
            environment=environment,
            payload=dict(payload or {}),
            description=clip(description, STATUS_DESCRIPTION_LIMIT),
            creator=self.bot_login,
        )
        self.github.deployments[record.id] = record
        return DeploymentInfo(id=record.id, ref=ref, sha=sha, environment=environment)

    def set_deployment_status(
        self,
        deployment_id: int,
        state: DeploymentState,
        *,
        description: str = "",
        environment_url: str | None = None,
        log_url: str | None = None,
    ) -> None:
        action = "set a deployment status"
        self._call(action, ("deployments", Level.WRITE))
        record = self.github.deployments.get(deployment_id)
        if record is None:
            raise refused(action, 404, "Not Found")
        record.statuses.append(
            {
                "state": state.value,
                "description": clip(description, STATUS_DESCRIPTION_LIMIT),
                "environment_url": environment_url or "",
                "log_url": log_url or "",
                "creator": self.bot_login,
            }
        )

    def open_revert(
        self,
        number: int,
        *,
        labels: Sequence[str] = ("rollback",),
        body: str = "",
        merge: bool = False,
    ) -> RevertResult:
        action = "open the revert pull request"
        self._call(action, ("contents", Level.WRITE), ("pull_requests", Level.WRITE))
        return memory_merges.open_revert(self, number, tuple(labels), body, merge, action)

    def file_history(self, path: str, limit: int) -> list[CommitInfo]:
        self._call("read the history of a file", ("contents", Level.READ))
        git, found = self.git, []
        for sha in git.added_commits(None, git.branches[self.github.default_branch]):
            commit = git.commits[sha]
            if len(commit.parents) > 1:
                # git log shows the commits a merge brings, not the merge.
                continue
            before = git.commits[commit.parents[0]].files if commit.parents else {}
            if before.get(path) != commit.files.get(path):
                found.append(CommitInfo(sha=sha, message=commit.message, committed_at=commit.time))
        return found[: max(1, min(limit, 100))]

    # --- the App -----------------------------------------------------------------------------

    def installation_permissions(self) -> dict[str, str]:
        self.github.requests.append("read the installation's permissions")
        if not self.uses_app:
            raise ForgeError(
                "a token has no installation permissions to read",
                hint="`promobot doctor` checks App installations; a token can do what its user can",
            )
        return dict(self.github.app_permissions)

    def fetch_credentials(self) -> GitCredentials:
        self.github.requests.append("get credentials for git")
        if not self.uses_app:
            token = self.github.tokens[self.bot_login]
            return GitCredentials(username=TOKEN_USERNAME, password=SecretStr(token))
        now = self.github.clock()
        if self._token is None or self._token[1] - self._margin <= now:
            token = f"ghs_memory_{next(_tokens):020d}"
            expires = now + dt.timedelta(seconds=self.github.installation_token_ttl)
            self.github.installation_tokens[token] = expires
            self._token = (token, expires)
        return GitCredentials(username=TOKEN_USERNAME, password=SecretStr(self._token[0]))


def comment_info(record: CommentRecord) -> Comment:
    return Comment(
        id=record.id,
        user=record.user,
        body=record.body,
        created_at=record.created_at,
        updated_at=record.updated_at,
    )


if TYPE_CHECKING:
    # mypy checks here that the memory forge implements the whole protocol.
    _CONFORMS: type[Forge] = MemoryForge
