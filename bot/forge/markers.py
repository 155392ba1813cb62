"""Where the bot's text lives in pull request bodies, comments and commit messages.

Pure functions: the adapter uses them to replace only its own part of a body,
to find its comments, and to tell its own commits from a person's.
"""

from __future__ import annotations

import hashlib

BODY_BEGIN = "<!-- promobot:begin -->"
BODY_END = "<!-- promobot:end -->"
BRANCH_TRAILER = "Promobot-Branch"
CONTENT_TRAILER = "Promobot-Content"
HUMAN_COMMIT_MARKER = "<!-- promobot:human-commit -->"


def bot_section(text: str) -> str:
    """`text` between the begin and end markers."""
    return f"{BODY_BEGIN}\n{text.strip()}\n{BODY_END}"


def replace_bot_section(existing: str | None, text: str) -> str:
    """`existing` with the part between the markers replaced by `text`.

    People may write above or below the markers; that text is kept. A body whose
    markers were deleted gets the bot's section appended, so nothing is lost.
    """
    section = bot_section(text)
    if not existing:
        return section
    begin = existing.find(BODY_BEGIN)
    end = existing.find(BODY_END, begin + len(BODY_BEGIN)) if begin >= 0 else -1
    if begin < 0 or end < 0:
        return f"{existing.rstrip()}\n\n{section}"
    return existing[:begin] + section + existing[end + len(BODY_END) :]


def with_marker(marker: str, body: str) -> str:
    """A comment body that starts with `marker`, so the bot can find it again."""
    return body if marker in body else f"{marker}\n{body}"


def content_digest(path: str, text: str) -> str:
    """Digest of one file change; equal digests mean an update would change nothing."""
    return hashlib.sha256(f"{path}\0{text}".encode()).hexdigest()[:32]


def commit_message(subject: str, branch: str, digest: str, body: str = "") -> str:
    """A bot commit message; the trailers identify the branch and the content it carries."""
    paragraph = f"{body.strip()}\n\n" if body.strip() else ""
    return f"{subject}\n\n{paragraph}{BRANCH_TRAILER}: {branch}\n{CONTENT_TRAILER}: {digest}\n"


def trailer(message: str, key: str) -> str | None:
    """The value of trailer `key` in a commit message, or None."""
    prefix = f"{key}: "
    for line in reversed(message.splitlines()):
        if line.startswith(prefix):
            return line[len(prefix) :].strip()
    return None


def is_bot_commit(
    *, message: str, committer_email: str | None, parent_count: int, branch: str, bot_email: str
) -> bool:
    """True when a branch head is the bot's single commit for `branch`.

    A bot branch is always exactly one bot commit on top of the default branch,
    so looking at the head is enough: anything a person pushes becomes the head.
    """
    return (
        parent_count == 1
        and (committer_email or "").lower() == bot_email.lower()
        and trailer(message, BRANCH_TRAILER) == branch
    )
