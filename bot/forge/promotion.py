"""Open or update the one promotion pull request of a (model, environment).

The branch `promobot/<environment>/<model>` always holds exactly one bot commit
on top of the default branch, made with the Git Data API (tree with the new
manifest, commit, ref). Opening costs: branch head, tree, commit, ref, pull
request, labels, reviewers. Creating the ref first is also the existence check:
a new ref means no pull request can exist yet.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from github import GithubException
from github.GithubObject import NotSet
from github.PullRequest import PullRequest

from bot.domain.layout import promotion_branch
from bot.forge.base import (
    ForgeHumanCommitError,
    ForgeNothingToChangeError,
    PromotionOutcome,
    PromotionPR,
)
from bot.forge.comments import upsert_comment
from bot.forge.convert import pull_request_info
from bot.forge.markers import (
    CONTENT_TRAILER,
    HUMAN_COMMIT_MARKER,
    bot_section,
    commit_message,
    content_digest,
    is_bot_commit,
    replace_bot_section,
    trailer,
)
from bot.forge.session import FILE_MODE, RepoSession

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
    entry = {"path": change.manifest_path, "mode": FILE_MODE, "type": "blob"}
    tree = session.create_tree(base_tree, [{**entry, "content": change.manifest_text}])
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
    _request_reviews(pull, reviewers, change.team_reviewers)
    info = pull_request_info(
        pull, labels=labels, reviewers=tuple(reviewers), teams=change.team_reviewers
    )
    return PromotionPR(
        outcome=outcome,
        pull_request=info,
        branch=change.branch,
        commit_sha=commit,
        detail=f"opened #{info.number} from {change.branch} at {commit[:7]}",
    )


def _request_reviews(pull: PullRequest, reviewers: Sequence[str], teams: Sequence[str]) -> None:
    if reviewers or teams:
        pull.create_review_request(reviewers=list(reviewers), team_reviewers=list(teams))


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
    head_commit = session.get_commit(head)
    if pull is None and head in session.closed_pull_heads(change.branch):
        # The branch of a merged or closed promotion: its commits, a person's included, are
        # kept by that pull request, so the next challenger starts the branch afresh.
        session.move_branch(change.branch, commit)
        return _open_pull(session, change, commit, PromotionOutcome.CREATED)
    if not is_bot_commit(
        message=str(head_commit["message"]),
        committer_email=head_commit["committer"].get("email"),
        parent_count=len(head_commit["parents"]),
        branch=change.branch,
        bot_email=session.settings.commit_email,
    ):
        return _stop_for_human_commit(session, change, pull, head)
    unchanged = trailer(str(head_commit["message"]), CONTENT_TRAILER) == digest
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


def _stop_for_human_commit(
    session: RepoSession, change: PromotionChange, pull: PullRequest | None, head: str
) -> PromotionPR:
    why = (
        f"promobot did not update `{change.branch}`: its head {head[:7]} was not committed "
        "by promobot, and promobot never force-pushes over someone's commits."
    )
    if pull is None:
        raise ForgeHumanCommitError(
            why, hint=f"delete the branch {change.branch} (or open its pull request) and retry"
        )
    fix = (
        "To hand the promotion back to the bot, close this pull request or reset the branch "
        "to the bot's commit; the next challenger then updates it again."
    )
    upsert_comment(
        session.repo.get_issue(pull.number),
        marker=HUMAN_COMMIT_MARKER,
        body=f"{why}\n\n{fix}",
        bot_login=session.settings.bot_login,
    )
    return PromotionPR(
        outcome=PromotionOutcome.BLOCKED_BY_HUMAN_COMMIT,
        pull_request=pull_request_info(pull),
        branch=change.branch,
        commit_sha=head,
        detail=f"#{pull.number} has a commit by someone else at {head[:7]}; left it alone",
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
    if not unchanged:
        # Approvals count for the head only; ask the reviewers again for the new commit.
        _request_reviews(pull, reviewers, change.team_reviewers)
    else:
        reviewers, teams = _never_asked(pull, reviewers, change.team_reviewers)
        _request_reviews(pull, reviewers, teams)
    if bool(pull.draft) != change.draft:
        set_draft(pull, change.draft)
    info = pull_request_info(
        pull,
        labels=(*current, *missing),
        reviewers=tuple(reviewers),
        teams=change.team_reviewers,
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
