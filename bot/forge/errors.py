"""Errors of the forge a workflow reacts to; each says what happened and how to go on."""

from __future__ import annotations

from bot.errors import ForgeError


class ForgeHumanCommitError(ForgeError):
    """A person committed on a bot branch; the bot will not force-push their work away."""


class ForgeHeadMovedError(ForgeError):
    """The pull request's head is no longer the SHA the decision was made for (HTTP 409)."""


class ForgeNotMergeableError(ForgeError):
    """GitHub refused the merge: conflict, closed, draft or protection rules (HTTP 405)."""


class ForgeRevertConflictError(ForgeError):
    """A file of the merged promotion changed again since; a revert would drop that change."""


class ForgeNothingToChangeError(ForgeError):
    """The default branch already holds exactly this manifest."""
