"""Where the bot's text lives in pull request bodies, comments and commit messages.

Pure functions: the adapter uses them to replace only its own part of a body,
to find its comments, and to tell its own commits from a person's.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

BODY_BEGIN = "<!-- promobot:begin -->"
BODY_END = "<!-- promobot:end -->"
BRANCH_TRAILER = "Promobot-Branch"
CONTENT_TRAILER = "Promobot-Content"
HUMAN_COMMIT_MARKER = "<!-- promobot:human-commit -->"
# GitHub's own commits (web merges, "Update branch") are committed by this address.
# https://docs.github.com/en/authentication/managing-commit-signature-verification/about-commit-signature-verification
GITHUB_COMMITTER_EMAIL = "noreply@github.com"
GITHUB_COMMITTER_LOGIN = "web-flow"


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


@dataclass(frozen=True)
class FileChange:
    """One file a commit changed against its first parent."""

    path: str
    status: str
    blob_sha: str | None
    previous_path: str | None = None


@dataclass(frozen=True)
class CommitFacts:
    """A commit as GitHub's REST API shows it (`GET /repos/{o}/{r}/commits/{sha}`).

    The logins are GitHub's attribution of the author and committer; None when no
    account matches the address.
    """

    sha: str
    message: str
    parents: tuple[str, ...]
    author_login: str | None
    committer_login: str | None
    author_email: str | None
    committer_email: str | None
    verified: bool
    files: tuple[FileChange, ...] = ()

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CommitFacts:
        """From GitHub's commit JSON."""
        commit = data["commit"]
        return cls(
            sha=str(data["sha"]),
            message=str(commit["message"]),
            parents=tuple(str(parent["sha"]) for parent in data.get("parents", [])),
            author_login=(data.get("author") or {}).get("login"),
            committer_login=(data.get("committer") or {}).get("login"),
            author_email=(commit.get("author") or {}).get("email"),
            committer_email=(commit.get("committer") or {}).get("email"),
            verified=bool((commit.get("verification") or {}).get("verified")),
            files=file_changes(data.get("files") or []),
        )


def file_changes(items: list[dict[str, Any]]) -> tuple[FileChange, ...]:
    """The `files` of a commit or a comparison; a removed file has no blob."""
    return tuple(
        FileChange(
            path=str(item["filename"]),
            status=str(item.get("status") or "modified"),
            blob_sha=None if item.get("status") == "removed" else item.get("sha"),
            previous_path=item.get("previous_filename"),
        )
        for item in items
    )


def is_made_by(
    login: str | None, email: str | None, *, bot_login: str, bot_email: str | None
) -> bool:
    """An author or committer is the bot: its account, or the identity configured for it."""
    if login is not None and login.lower() == bot_login.lower():
        return True
    return bot_email is not None and (email or "").lower() == bot_email.lower()


def is_bot_commit(
    commit: CommitFacts, *, branch: str, bot_login: str, bot_email: str | None = None
) -> bool:
    """True when a commit is the bot's single commit for `branch`.

    Author and committer must both be the bot: a person amending the bot's commit keeps
    its author but becomes its committer. GitHub attributes an App's commits to
    `<slug>[bot]` and a token's to its user; a configured identity is matched by e-mail.
    """
    return (
        len(commit.parents) == 1
        and trailer(commit.message, BRANCH_TRAILER) == branch
        and is_made_by(
            commit.author_login, commit.author_email, bot_login=bot_login, bot_email=bot_email
        )
        and is_made_by(
            commit.committer_login,
            commit.committer_email,
            bot_login=bot_login,
            bot_email=bot_email,
        )
    )


def is_github_merge(commit: CommitFacts) -> bool:
    """A two-parent merge GitHub itself made and signed: "Update branch" merging the base
    into the head. Whoever pressed the button is its author; GitHub is its committer.

    https://docs.github.com/en/rest/pulls/pulls#update-a-pull-request-branch
    """
    by_github = (commit.committer_email or "").lower() == GITHUB_COMMITTER_EMAIL or (
        commit.committer_login or ""
    ).lower() == GITHUB_COMMITTER_LOGIN
    return len(commit.parents) == 2 and by_github and commit.verified


@dataclass(frozen=True)
class HumanCommitNotice:
    """What promobot says when a promotion branch's head is someone else's commit: the
    error without a pull request, else the comment on it and the outcome's detail."""

    branch: str
    head: str

    @property
    def why(self) -> str:
        """The reason promobot left the branch alone."""
        return (
            f"promobot did not update `{self.branch}`: its head {self.head[:7]} was not "
            "committed by promobot, and promobot never force-pushes over someone's commits."
        )

    @property
    def hint(self) -> str:
        """How to go on when the branch has no pull request."""
        return f"delete the branch {self.branch} (or open its pull request) and retry"

    @property
    def comment(self) -> str:
        """The comment (under `HUMAN_COMMIT_MARKER`) on the branch's pull request."""
        fix = (
            "To hand the promotion back to the bot, close this pull request or reset the "
            "branch to the bot's commit; the next challenger then updates it again."
        )
        return f"{self.why}\n\n{fix}"

    def detail(self, number: int) -> str:
        """The outcome's one line."""
        return f"#{number} has a commit by someone else at {self.head[:7]}; left it alone"
