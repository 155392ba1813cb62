"""The policy verdict on a head: set by the bot alone, located where the problem is.

With a GitHub App the verdict is a check run of the App (branch protection can pin the
check to it, and nobody else can write it); with a token it is a status, and only one
whose creator is the bot counts. A file the bot cannot read is annotated at its line.
"""

from __future__ import annotations

from collections.abc import Iterable

from bot.errors import UserInputError
from bot.forge.base import Annotation, AnnotationLevel, CommitState
from bot.formats.loading import InvalidFile
from bot.workflows.services import Services

MAX_TITLE = 140


def post_verdict(
    services: Services,
    sha: str,
    passed: bool,
    title: str,
    *,
    summary: str = "",
    text: str = "",
    annotations: Iterable[Annotation] = (),
) -> None:
    """Set the bot's verdict on `sha`."""
    services.forge.set_verdict(
        sha,
        CommitState.SUCCESS if passed else CommitState.FAILURE,
        title=title[:MAX_TITLE],
        summary=summary or title,
        text=text,
        annotations=tuple(annotations),
    )


def annotations_of(error: BaseException) -> list[Annotation]:
    """The lines a user's mistake is at: each problem of an invalid file, when it has them."""
    found: list[Annotation] = []
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, InvalidFile):
            found.extend(
                Annotation(
                    path=problem.path,
                    start_line=max(problem.line, 1),
                    end_line=max(problem.line, 1),
                    level=AnnotationLevel.FAILURE,
                    title=problem.field,
                    message=problem.message,
                )
                for problem in cause.problems
            )
            break
        cause = cause.__cause__
    return found


def fail_unreadable(services: Services, sha: str, error: UserInputError) -> None:
    """A manifest or policy the bot cannot read fails the verdict, located at its lines."""
    post_verdict(
        services,
        sha,
        False,
        str(error).splitlines()[0],
        summary="promobot cannot evaluate this pull request.",
        text=f"```\n{error}\n```",
        annotations=annotations_of(error),
    )
