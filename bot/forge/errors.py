"""Errors of the forge a workflow reacts to; each says what happened and how to go on."""

from __future__ import annotations

from bot.errors import ForgeError
from bot.forge.values import MergeBlock


class ForgeHumanCommitError(ForgeError):
    """A person committed on a bot branch; the bot will not force-push their work away."""


class ForgeHeadMovedError(ForgeError):
    """The pull request's head is no longer the SHA the decision was made for (HTTP 409)."""


class ForgeNotMergeableError(ForgeError):
    """GitHub refused the merge: conflict, closed, draft or protection rules (HTTP 405)."""


class ForgeMergeBlockedError(ForgeNotMergeableError):
    """Branch protection or a ruleset refused the merge (HTTP 405 with GitHub's reason).

    Not worth retrying until something changes: a review, a check, the branch, the rules.
    `reason` is GitHub's own message; `kind` says which kind of rule it is.
    """

    def __init__(
        self, message: str, *, reason: str, kind: MergeBlock, hint: str | None = None
    ) -> None:
        super().__init__(message, hint=hint)
        self.reason = reason
        self.kind = kind


class ForgeMergePendingError(ForgeError):
    """GitHub kept answering that it is still computing mergeability; repeat later."""


class ForgeDraftsRefusedError(ForgeError):
    """Draft pull requests are not available here (a private repository on GitHub Free)."""


class ForgePermissionError(ForgeError):
    """The token or App lacks a permission; `permission` names it (GitHub's name) when known."""

    def __init__(self, message: str, *, permission: str | None, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.permission = permission


class ForgeTeamNotFoundError(ForgeError):
    """A team a policy names does not exist, or the bot cannot see it."""


class ForgeRevertConflictError(ForgeError):
    """A file of the merged promotion changed again since; a revert would drop that change."""


class ForgeNothingToChangeError(ForgeError):
    """The default branch already holds exactly this manifest."""
