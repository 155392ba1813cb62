"""What the bot and the CLI agree to read: small regular files of UTF-8 text.

Manifests and policies come from repository writers, so every limit holds
before parsing starts: a size cap, regular files only (a symbolic link to
`/dev/zero`, a FIFO or a device is refused, whether on disk or in a git tree),
and text that is UTF-8. Limits inside the YAML (aliases, depth, node count)
live in `yamlsource.py`.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from bot.formats.problems import Problem

MAX_FILE_BYTES = 1_000_000
"""Largest manifest or policy read, in bytes; real ones are a few hundred."""

_SIZE_HINT = "manifests and policies are small: keep only the fields `promobot schema` lists"

_FILE_KINDS = (
    (stat.S_ISLNK, "a symbolic link"),
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)

GIT_SYMLINK_MODE = 0o120000
GIT_SUBMODULE_MODE = 0o160000
GIT_TREE_MODE = 0o040000
_GIT_MODES = {
    GIT_SYMLINK_MODE: "a symbolic link",
    GIT_SUBMODULE_MODE: "a submodule",
    GIT_TREE_MODE: "a folder",
}
_CONTENTS_TYPES = {"symlink": "a symbolic link", "submodule": "a submodule", "dir": "a folder"}
"""`type` of an entry in GitHub's contents API, other than `file`."""


class RefusedFile(Exception):
    """A file the limits do not let through; `problem` says why and what to do."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(str(problem))
        self.problem = problem


def _not_regular(path: str, what: str) -> Problem:
    return Problem(
        path,
        1,
        1,
        "<file>",
        f"is {what}; promobot reads only regular files: put the file itself here",
    )


def size_problem(path: str, size: int) -> Problem | None:
    """A `Problem` when `size` bytes are over the limit."""
    if size <= MAX_FILE_BYTES:
        return None
    return Problem(
        path,
        1,
        1,
        "<file>",
        f"is {size:,} bytes, over the limit of {MAX_FILE_BYTES:,} bytes; {_SIZE_HINT}",
    )


def text_size_problem(path: str, text: str) -> Problem | None:
    """A `Problem` when `text`, encoded as UTF-8, is over the limit."""
    if 4 * len(text) <= MAX_FILE_BYTES:
        return None
    return size_problem(path, len(text.encode("utf-8", "surrogatepass")))


def git_entry_problem(path: str, mode: int | str, size: int | None = None) -> Problem | None:
    """Why a git tree entry must not be read as a manifest or policy, or None when it may.

    `mode` is the entry's git mode, as GitPython gives it (`0o100644`) or as
    `git ls-tree` and GitHub's trees API write it (`"100644"`), or the `type`
    of GitHub's contents API (`"file"`, `"symlink"`, `"submodule"`, `"dir"`).
    `size` is the blob's size in bytes, when known before reading it.
    """
    what = _git_entry_kind(mode)
    if what is not None:
        return _not_regular(path, what)
    return None if size is None else size_problem(path, size)


def _git_entry_kind(mode: int | str) -> str | None:
    """What a non-regular git entry is, in words; None for a regular file."""
    if mode == "file":
        return None
    if isinstance(mode, str):
        if mode in _CONTENTS_TYPES:
            return _CONTENTS_TYPES[mode]
        try:
            mode = int(mode, 8)
        except ValueError:
            return f"an entry of type {mode!r}"
    if stat.S_ISREG(mode):
        return None
    return _GIT_MODES.get(mode, f"a git entry of mode {mode:o}")


def _kind_of(mode: int) -> str | None:
    """What a non-regular file is, in words; None for a regular file."""
    for test, what in _FILE_KINDS:
        if test(mode):
            return what
    return None if stat.S_ISREG(mode) else "not a regular file"


def read_text_file(path: Path, shown: str) -> str:
    """The UTF-8 text of a regular file, or `RefusedFile`.

    Symbolic links are not followed and FIFOs are never opened for a blocking
    read; the size is checked before reading and again while reading, so a
    file that grows meanwhile is not read past the limit.
    """
    try:
        kind = _kind_of(os.lstat(path).st_mode)
        if kind is not None:
            raise RefusedFile(_not_regular(shown, kind))
        flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
        with open(os.open(path, flags), "rb") as stream:
            found = os.fstat(stream.fileno())
            kind = _kind_of(found.st_mode)
            if kind is not None:
                raise RefusedFile(_not_regular(shown, kind))
            too_large = size_problem(shown, found.st_size)
            if too_large is not None:
                raise RefusedFile(too_large)
            data = stream.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise RefusedFile(Problem(shown, 1, 1, "<file>", f"cannot read: {reason}")) from exc
    too_large = size_problem(shown, len(data))
    if too_large is not None:
        raise RefusedFile(too_large)
    return decode_text(data, shown)


def decode_text(data: bytes, shown: str) -> str:
    """`data` as UTF-8 text (a leading byte-order mark dropped), or `RefusedFile`."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise RefusedFile(
            Problem(
                shown,
                line,
                column,
                "<file>",
                f"is not UTF-8 text (byte 0x{data[exc.start]:02x}); save the file as UTF-8",
            )
        ) from exc
    return text.removeprefix("\ufeff")
