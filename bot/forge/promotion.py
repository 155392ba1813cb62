"""Open or update the one promotion pull request of a (model, environment).

The branch `promobot/<environment>/<model>` always holds exactly one bot commit
on top of the default branch, made with the Git Data API (tree with the new
manifest, commit, ref). Opening costs: branch head, tree, commit, ref, pull
request, labels, reviewers. Creating the ref first is also the existence check:
a new ref means no pull request can exist yet. A branch the default branch moved
away from is brought up to date by making the bot's commit again on the new base.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from github import GithubException
from github.GithubObject import NotSet
from github.PullRequest import PullRequest

from bot.domain.layout import promotion_branch
from bot.forge.base import (
    ForgeHeadMovedError,
    ForgeHumanCommitError,
    ForgeNothingToChangeError,
    PromotionOutcome,
    PromotionPR,
    ReviewRequestProblem,
)
from bot.forge.branches import find_bot_commit, rebuild
from bot.forge.comments import upsert_comment
from bot.forge.convert import pull_request_info
from bot.forge.markers import (
    CONTENT_TRAILER,
    HUMAN_COMMIT_MARKER,
    HumanCommitNotice,
    bot_section,
    commit_message,
    content_digest,
    replace_bot_section,
    trailer,
)
from bot.forge.session import FILE_MODE, RepoSession, github_message

SetDraft = Callable[[PullRequest, bool], None]
"""Flips a pull request's draft state; REST cannot, so the adapter passes its GraphQL call."""


@dataclass(frozen=True)
class PromotionChange:
    """What the workflow wants the promotion pull request to say."""

    model: str
    environment: str
    manifest_path: str
    manifest_text: str
    title: str
    body: str
    labels: tuple[str, ...]
    reviewers: tuple[str, ...]
    team_reviewers: tuple[str, ...]
    draft: bool
    extra_files: tuple[tuple[str, str], ...] = ()

    @property
    def branch(self) -> str:
        return promotion_branch(self.model, self.environment)


def reviewers_to_request(change: PromotionChange, bot_login: str) -> list[str]:
    """GitHub refuses a review request to the pull request's author, the bot."""
    return [login for login in dict.fromkeys(change.reviewers) if login != bot_login]


def open_or_update(
    session: RepoSession, change: PromotionChange, set_draft: SetDraft
) -> PromotionPR:
    """See `Forge.open_or_update_promotion`."""
    base = session.default_branch_name()
    base_sha, base_tree = session.branch_commit(base)
    files = ((change.manifest_path, change.manifest_text), *change.extra_files)
    tree = session.create_tree(
        base_tree,
        [
            {"path": path, "mode": FILE_MODE, "type": "blob", "content": text}
            for path, text in files
        ],
    )
    if tree == base_tree:
        raise ForgeNothingToChangeError(
            f"{change.manifest_path} on {base} already has this content; nothing to promote",
            hint="the version is already what the default branch says",
        )
    digest = content_digest(change.manifest_path, change.manifest_text)
    message = commit_message(change.title, change.branch, digest)
    commit = session.create_commit(message, tree, base_sha)
    if session.create_branch(change.branch, commit):
        return _open_pull(session, change, commit, PromotionOutcome.CREATED)
    return _update_branch(session, change, commit, digest, set_draft)


def _open_pull(
    session: RepoSession, change: PromotionChange, commit: str, outcome: PromotionOutcome
) -> PromotionPR:
    base = session.default_branch_name()
    try:
        pull = session.repo.create_pull(
            base=base,
            head=change.branch,
            title=change.title,
            body=bot_section(change.body),
            draft=change.draft,
        )
    except GithubException as error:
        existing = session.find_open_pull(change.branch) if error.status == 422 else None
        if existing is None:
            raise
        # A retried create whose first attempt did land: continue with that one.
        pull = existing
    labels = tuple(dict.fromkeys(change.labels))
    if labels:
        pull.add_to_labels(*labels)
    reviewers = reviewers_to_request(change, session.settings.bot_login)
    problems = request_reviews(session, pull, reviewers, change.team_reviewers)
    info = pull_request_info(
        pull,
        labels=labels,
        reviewers=_asked(reviewers, problems, teams=False),
        teams=_asked(change.team_reviewers, problems, teams=True),
    )
    return PromotionPR(
        outcome=outcome,
        pull_request=info,
        branch=change.branch,
        commit_sha=commit,
        detail=f"opened #{info.number} from {change.branch} at {commit[:7]}",
        review_problems=problems,
    )


def request_reviews(
    session: RepoSession, pull: PullRequest, reviewers: Sequence[str], teams: Sequence[str]
) -> tuple[ReviewRequestProblem, ...]:
    """Ask for reviews; what GitHub refuses (422) is returned, not raised.

    GitHub refuses the whole request when one reviewer cannot be asked: a team without
    access to the repository, or any team when the App lacks the organization Members
    permission. Each is then asked alone, so the others still are.
    https://docs.github.com/en/rest/pulls/review-requests#request-reviewers-for-a-pull-request
    """
    if not reviewers and not teams:
        return ()
    try:
        pull.create_review_request(reviewers=list(reviewers), team_reviewers=list(teams))
    except GithubException as error:
        if error.status != 422:
            raise
        if len(reviewers) + len(teams) == 1:
            return (_review_problem(session, reviewers, teams, error),)
    else:
        return ()
    problems: list[ReviewRequestProblem] = []
    for login in reviewers:
        problems += request_reviews(session, pull, [login], [])
    for slug in teams:
        problems += request_reviews(session, pull, [], [slug])
    return tuple(problems)


def _review_problem(
    session: RepoSession, reviewers: Sequence[str], teams: Sequence[str], error: GithubException
) -> ReviewRequestProblem:
    if teams:
        hint = (
            f"give the team {session.owner}/{teams[0]} at least read access to "
            f"{session.repository}, and the App the organization permission Members: read"
        )
    else:
        hint = f"make {reviewers[0]} a collaborator of {session.repository} (read access or more)"
    return ReviewRequestProblem(
        reviewers=tuple(reviewers), teams=tuple(teams), message=github_message(error), hint=hint
    )


def _asked(
    wanted: Sequence[str], problems: Sequence[ReviewRequestProblem], *, teams: bool
) -> tuple[str, ...]:
    refused = {name for p in problems for name in (p.teams if teams else p.reviewers)}
    return tuple(name for name in wanted if name not in refused)


def _update_branch(
    session: RepoSession,
    change: PromotionChange,
    commit: str,
    digest: str,
    set_draft: SetDraft,
) -> PromotionPR:
    pull = session.find_open_pull(change.branch)
    head = pull.head.sha if pull is not None else session.branch_head(change.branch)
    if head is None:
        # The branch vanished between the two calls: start over as a new one.
        session.create_branch(change.branch, commit)
        return _open_pull(session, change, commit, PromotionOutcome.CREATED)
    if pull is None and head in session.closed_pull_heads(change.branch):
        # The branch of a merged or closed promotion: its commits, a person's included, are
        # kept by that pull request, so the next challenger starts the branch afresh.
        session.move_branch(change.branch, commit)
        return _open_pull(session, change, commit, PromotionOutcome.CREATED)
    found = find_bot_commit(session, head, change.branch)
    if found is None:
        return _stop_for_human_commit(session, change.branch, pull, head)
    unchanged = trailer(found.commit.message, CONTENT_TRAILER) == digest
    if not unchanged:
        session.move_branch(change.branch, commit)
    if pull is None:
        outcome = PromotionOutcome.CREATED
        return _open_pull(session, change, head if unchanged else commit, outcome)
    return _refresh_pull(
        session,
        change=change,
        pull=pull,
        commit=head if unchanged else commit,
        unchanged=unchanged,
        set_draft=set_draft,
    )


def update_promotion_branch(
    session: RepoSession, number: int, expected_head_sha: str | None
) -> PromotionPR:
    """See `Forge.update_promotion_branch`."""
    pull = session.repo.get_pull(number)
    branch, head = pull.head.ref, pull.head.sha
    if expected_head_sha is not None and head != expected_head_sha:
        raise ForgeHeadMovedError(
            f"#{number} was not brought up to date: its head moved to {head[:7]} after "
            f"{expected_head_sha[:7]} was checked",
            hint="recompute merge readiness for the new head",
        )
    found = find_bot_commit(session, head, branch)
    if found is None:
        return _stop_for_human_commit(session, branch, pull, head)
    base_sha, base_tree = session.branch_commit(pull.base.ref)
    info = pull_request_info(pull)
    if found.commit.parents == (base_sha,) and not found.is_rebased_by_github:
        detail = f"#{number} is up to date with {pull.base.ref}"
        return PromotionPR(
            outcome=PromotionOutcome.UNCHANGED,
            pull_request=info,
            branch=branch,
            commit_sha=head,
            detail=detail,
        )
    commit = rebuild(session, found.commit, base_sha, base_tree)
    if commit is None:
        raise already_promoted(pull.base.ref, number)
    session.move_branch(branch, commit)
    return PromotionPR(
        outcome=PromotionOutcome.UPDATED,
        pull_request=info.model_copy(
            update={"head_sha": commit, "mergeable": None, "mergeable_state": "unknown"}
        ),
        branch=branch,
        commit_sha=commit,
        detail=f"#{number}: made its commit again on {pull.base.ref} at {base_sha[:7]}",
    )


def already_promoted(base: str, number: int) -> ForgeNothingToChangeError:
    """The error when rebuilding #`number` on `base` leaves nothing to change."""
    return ForgeNothingToChangeError(
        f"{base} already holds what #{number} changes",
        hint="close the pull request; there is nothing left to promote",
    )


def _stop_for_human_commit(
    session: RepoSession, name: str, pull: PullRequest | None, head: str
) -> PromotionPR:
    notice = HumanCommitNotice(name, head)
    if pull is None:
        raise ForgeHumanCommitError(notice.why, hint=notice.hint)
    upsert_comment(
        session,
        session.repo.get_issue(pull.number),
        marker=HUMAN_COMMIT_MARKER,
        body=notice.comment,
    )
    return PromotionPR(
        outcome=PromotionOutcome.BLOCKED_BY_HUMAN_COMMIT,
        pull_request=pull_request_info(pull),
        branch=name,
        commit_sha=head,
        detail=notice.detail(pull.number),
    )


def _refresh_pull(
    session: RepoSession,
    *,
    change: PromotionChange,
    pull: PullRequest,
    commit: str,
    unchanged: bool,
    set_draft: SetDraft,
) -> PromotionPR:
    body = replace_bot_section(pull.body, change.body)
    new_body = body if body != (pull.body or "") else None
    new_title = change.title if change.title != pull.title else None
    if new_body is not None or new_title is not None:
        pull.edit(
            title=NotSet if new_title is None else new_title,
            body=NotSet if new_body is None else new_body,
        )
    current = [label.name for label in pull.labels]
    missing = [label for label in dict.fromkeys(change.labels) if label not in current]
    if missing:
        pull.add_to_labels(*missing)
    reviewers = reviewers_to_request(change, session.settings.bot_login)
    teams: Sequence[str] = change.team_reviewers
    if unchanged:
        reviewers, teams = _never_asked(pull, reviewers, change.team_reviewers)
    # Approvals count for the head only; after a new commit every reviewer is asked again.
    problems = request_reviews(session, pull, reviewers, teams)
    if bool(pull.draft) != change.draft:
        set_draft(pull, change.draft)
    info = pull_request_info(
        pull,
        labels=(*current, *missing),
        reviewers=_asked(reviewers, problems, teams=False),
        teams=_asked(change.team_reviewers, problems, teams=True),
        body=body,
    ).model_copy(update={"head_sha": commit, "draft": change.draft, "title": change.title})
    outcome = PromotionOutcome.UNCHANGED if unchanged else PromotionOutcome.UPDATED
    what = "kept" if unchanged else "pushed"
    return PromotionPR(
        outcome=outcome,
        pull_request=info,
        branch=change.branch,
        commit_sha=commit,
        detail=f"updated #{pull.number}: {what} {commit[:7]} on {change.branch}",
        review_problems=problems,
    )


def _never_asked(
    pull: PullRequest, reviewers: Sequence[str], teams: Sequence[str]
) -> tuple[list[str], list[str]]:
    """Reviewers an interrupted run did not get to request: neither pending nor reviewed."""
    pending = {user.login for user in pull.requested_reviewers}
    pending_teams = {team.slug for team in pull.requested_teams}
    missing = [login for login in reviewers if login not in pending]
    missing_teams = [slug for slug in teams if slug not in pending_teams]
    if not missing and not missing_teams:
        return [], []
    reviewed = {review.user.login for review in pull.get_reviews() if review.user is not None}
    if reviewed:
        # Someone already reviewed: the requests went out before; do not ping again.
        return [login for login in missing if login not in reviewed], []
    return missing, missing_teams
