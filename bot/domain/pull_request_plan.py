"""What a verdict does to the promotion pull request: open it, as a draft, closed, or not at all.

`on_rejected` in the policy says what happens to a challenger that fails: `draft` (a
draft pull request with the report), `close` (opened and closed with the report) or
`comment` (no pull request; the report goes to a comment). Where the forge refuses
drafts (private repositories on GitHub Free), a rejected challenger's pull request is
opened as a plain one, labelled rejected, and its report says why it is not a draft.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from bot.domain.policy import OnRejected
from bot.domain.verdict import Outcome, Verdict

LABEL_PROMOTION = "promotion"
LABEL_REJECTED = "rejected"


class PullRequestPlan(BaseModel):
    """The pull request a verdict asks for."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    open_pull_request: bool = Field(description="Open or update the promotion pull request.")
    draft: bool = Field(description="As a draft.")
    close: bool = Field(description="Close it once the report is on it.")
    comment_report: bool = Field(description="Post the report as a comment instead.")
    labels: tuple[str, ...] = Field(description="Labels the pull request carries.")
    request_reviews: bool = Field(description="Ask the policy's teams for a review.")
    verdict_passes: bool = Field(description="The policy verdict on the head passes.")
    title_prefix: str = Field(description="Put before the title.")
    note: str | None = Field(default=None, description="A sentence for the report, if any.")


def plan_pull_request(
    verdict: Verdict, on_rejected: OnRejected, *, drafts_allowed: bool = True
) -> PullRequestPlan:
    """The plan for `verdict` under the policy's `on_rejected`."""
    if verdict.verdict is Outcome.PROMOTE:
        return PullRequestPlan(
            open_pull_request=True,
            draft=False,
            close=False,
            comment_report=False,
            labels=(LABEL_PROMOTION,),
            request_reviews=True,
            verdict_passes=True,
            title_prefix="",
        )
    as_draft = drafts_allowed and on_rejected is not OnRejected.COMMENT
    note = None
    if on_rejected is OnRejected.DRAFT and not drafts_allowed:
        note = (
            "GitHub refuses draft pull requests in this repository (drafts in private "
            "repositories need a paid plan), so this rejected challenger is an open pull "
            "request labelled `rejected`; its failing policy check keeps it from merging."
        )
    return PullRequestPlan(
        open_pull_request=on_rejected is not OnRejected.COMMENT,
        draft=as_draft,
        close=on_rejected is OnRejected.CLOSE,
        comment_report=on_rejected is OnRejected.COMMENT,
        labels=(LABEL_PROMOTION, LABEL_REJECTED),
        request_reviews=False,
        verdict_passes=False,
        title_prefix="[rejected] ",
        note=note,
    )
