"""A repository writer against the templates: `templates/` overrides the packaged ones, so
whoever can push writes them. They render sandboxed, and a template that misbehaves gives
way to the packaged one under a note that names its file, line and reason."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from bot.domain.promotion import State
from bot.domain.readiness import Readiness
from bot.domain.verdict import RuleResult, decide
from bot.report.render import MAX_TEMPLATE_BYTES, render_report, render_template
from bot.workflows.gate import post_status
from tests.core.test_report import CTX, POLICY, comparison

STATUS = "status_comment.md.j2"
READINESS = Readiness(
    ready=False,
    merge=False,
    state=State.PROPOSED,
    rules=(RuleResult(name="approvals", passed=False, detail="0 of 1 approval(s)"),),
    next_evaluation_at=None,
)
STATUS_VALUES: dict[str, Any] = {
    "readiness": READINESS,
    "head_sha": "a" * 40,
    "state_description": "The challenger is being evaluated.",
}


def repository(tmp_path: Path, files: dict[str, str | Callable[[Path], object]]) -> Path:
    """A checkout whose `templates/` holds `files` (text, or a function that makes it)."""
    root = tmp_path / "repo"
    (root / "templates").mkdir(parents=True)
    for name, content in files.items():
        path = root / "templates" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if callable(content):
            content(path)
        else:
            path.write_text(content)
    return root


def packaged_status() -> str:
    return render_template(STATUS, None, **STATUS_VALUES)


ESCAPES = {
    "cycler-globals": "{{ cycler.__init__.__globals__.os.popen('COMMAND').read() }}",
    "lipsum-globals": "{{ lipsum.__globals__['os'].popen('COMMAND').read() }}",
    "joiner-globals": "{{ joiner.__init__.__globals__.os.system('COMMAND') }}",
    "namespace-globals": "{{ namespace.__init__.__globals__.os.system('COMMAND') }}",
    "subclasses": "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "format-string": "{{ '{0.__init__.__globals__}'.format(cycler) }}",
    "template-context": "{{ self._TemplateReference__context }}",
}
"""Known ways out of a plain Jinja2 environment; COMMAND creates a marker file."""


@pytest.mark.parametrize("escape", ESCAPES.values(), ids=ESCAPES.keys())
def test_a_repository_template_cannot_run_code_in_the_bot(tmp_path: Path, escape: str) -> None:
    """`{{ cycler.__init__.__globals__.os.popen('id').read() }}` ran as the bot's user, who
    holds the App's private key and every webhook secret."""
    marker = tmp_path / "escaped"
    template = "**status**\n" + escape.replace("COMMAND", f"touch {marker}") + "\n"
    root = repository(tmp_path, {STATUS: template})
    text = render_template(STATUS, root, **STATUS_VALUES)
    assert not marker.exists()
    note, _, rest = text.partition("\n\n")
    assert note.startswith("> **promobot**: `templates/status_comment.md.j2` line 2: ")
    assert "unsafe" in note
    assert note.endswith("the packaged template was used.")
    assert rest == packaged_status()


def test_the_note_reaches_the_status_comment(tmp_path: Path) -> None:
    """The status comment is where the repository's writer looks: the error shows there."""
    root = repository(tmp_path, {STATUS: "ok\n\n{{ cycler.__init__.__globals__ }}\n"})
    comments: dict[tuple[int, str], str] = {}
    forge = SimpleNamespace(
        upsert_comment=lambda number, marker, body: comments.__setitem__((number, marker), body)
    )
    env = SimpleNamespace(forge=forge, templates_root=root)
    post_status(env, SimpleNamespace(number=7, head_sha="b" * 40), READINESS)
    (body,) = comments.values()
    assert "`templates/status_comment.md.j2` line 3: `access to attribute '__init__'" in body
    assert "**promobot: not ready to merge** (head `bbbbbbb`)" in body


def test_a_report_template_that_fails_gives_way_under_a_note(tmp_path: Path) -> None:
    """The report sits inside the pull request body: the note goes with it."""
    root = repository(tmp_path, {"report.md.j2": "{% for %}\n"})
    verdict = decide(comparison(), POLICY)
    text = render_report(comparison(), verdict, CTX, root)
    assert text.startswith("> **promobot**: `templates/report.md.j2` line 1: `Expected an")
    assert text.endswith(render_report(comparison(), verdict, CTX))
    body = render_template(
        "pr_body.md.j2",
        root,
        ctx=CTX,
        verdict=verdict,
        report=text,
        policy=POLICY,
        challenger=SimpleNamespace(uri="models:/churn-classifier/2", run_id=None),
    )
    assert "`templates/report.md.j2` line 1" in body


@pytest.mark.parametrize(
    ("template", "line", "reason"),
    [
        ("fine\n{% if %}\n", 2, "Expected an expression"),
        ("a\n\n\n{{ nobody.name }}\n", 4, "'nobody' is undefined"),
        ("{{ readiness.rules.append(1) }}", 1, "has no attribute 'append'"),
        ("{% set seen = [] %}{{ seen.append(1) }}", 1, "unsafe"),
        ("{% include 'status_comment.md.j2' %}", 1, "RecursionError"),
        ("x\n{{ 1 / 0 }}", 2, "ZeroDivisionError"),
    ],
)
def test_a_template_that_fails_is_located(
    tmp_path: Path, template: str, line: int, reason: str
) -> None:
    """Parse errors, undefined values, changes to the values given (the sandbox is
    immutable) and endless includes: file and line, then the packaged template."""
    root = repository(tmp_path, {STATUS: template})
    text = render_template(STATUS, root, **STATUS_VALUES)
    note, _, rest = text.partition("\n\n")
    assert f"`templates/status_comment.md.j2` line {line}: " in note
    assert reason in note
    assert rest == packaged_status()


def test_the_failing_line_of_an_included_template_is_named(tmp_path: Path) -> None:
    """The note points at the file that failed, not at the one that included it."""
    root = repository(
        tmp_path,
        {STATUS: "{% include 'parts/rules.j2' %}\n", "parts/rules.j2": "a\n{{ nobody }}\n"},
    )
    text = render_template(STATUS, root, **STATUS_VALUES)
    assert text.startswith("> **promobot**: `templates/parts/rules.j2` line 2: `'nobody' is")


def _secret(tmp_path: Path) -> Path:
    secret = tmp_path / "private-key.pem"
    secret.write_text("-----BEGIN PRIVATE KEY----- secret\n")
    return secret


def _refused_file(kind: str, tmp_path: Path) -> Callable[[Path], object]:
    """A maker of `templates/status_comment.md.j2` as a file promobot must not read."""
    makers: dict[str, Callable[[Path], object]] = {
        "symlink": lambda path: path.symlink_to(_secret(tmp_path)),
        "fifo": os.mkfifo,
        "directory": Path.mkdir,
        "over-1-MB": lambda path: path.write_text("x" * (MAX_TEMPLATE_BYTES + 1)),
        "not-utf-8": lambda path: path.write_bytes(b"\xff\xfe{{ x }}"),
    }
    return makers[kind]


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("symlink", "not a regular file"),
        ("fifo", "not a regular file"),
        ("directory", "not a regular file"),
        ("over-1-MB", "larger than 1048576 bytes"),
        ("not-utf-8", "not UTF-8"),
    ],
)
def test_only_regular_files_of_at_most_1_mb_are_read(
    tmp_path: Path, kind: str, reason: str
) -> None:
    """Git carries symbolic links: one could show the bot's private key in a comment; a
    FIFO would block the worker forever."""
    root = repository(tmp_path, {STATUS: _refused_file(kind, tmp_path)})
    text = render_template(STATUS, root, **STATUS_VALUES)
    note, _, rest = text.partition("\n\n")
    assert note.startswith("> **promobot**: `templates/status_comment.md.j2`: ")
    assert reason in note
    assert "PRIVATE KEY" not in text
    assert rest == packaged_status()


def test_an_include_through_a_linked_folder_is_refused(tmp_path: Path) -> None:
    """A link to a folder outside the repository cannot be read through either."""
    secret = _secret(tmp_path)
    root = repository(
        tmp_path,
        {
            "keys": lambda path: path.symlink_to(secret.parent),
            STATUS: "{% include 'keys/private-key.pem' %}",
        },
    )
    text = render_template(STATUS, root, **STATUS_VALUES)
    assert text.startswith("> **promobot**: `templates/keys/`: `not a directory`")
    assert "PRIVATE KEY" not in text


def test_a_linked_templates_folder_is_refused(tmp_path: Path) -> None:
    """`templates` itself may be the link."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / STATUS).write_text("from elsewhere\n")
    root = tmp_path / "repo"
    root.mkdir()
    (root / "templates").symlink_to(elsewhere)
    text = render_template(STATUS, root, **STATUS_VALUES)
    assert text.startswith("> **promobot**: `templates/`: `not a directory`")
    assert "from elsewhere" not in text


def test_a_template_whose_text_grows_without_end_is_stopped(tmp_path: Path) -> None:
    """Ten billion characters would exhaust the bot's memory: rendering stops at 1 MiB."""
    loops = "{% for i in range(100000) %}{% for j in range(100000) %}0123456789{% endfor %}"
    root = repository(tmp_path, {STATUS: loops + "{% endfor %}"})
    text = render_template(STATUS, root, **STATUS_VALUES)
    assert "the text grows past 1048576 characters" in text.partition("\n\n")[0]


def test_a_sound_repository_template_is_still_used_without_a_note(tmp_path: Path) -> None:
    """The sandbox leaves everything a report needs: attributes, filters, methods, format."""
    template = (
        "{{ readiness.state.value }} {{ head_sha[:7] }} {{ '{:,}'.format(12345) }} "
        "{{ readiness.rules | map(attribute='name') | join(',') }} {{ 0.5 | num(2) }}\n"
    )
    root = repository(tmp_path, {STATUS: template})
    text = render_template(STATUS, root, **STATUS_VALUES)
    assert text == "proposed aaaaaaa 12,345 approvals 0.50\n"


def test_without_a_repository_template_the_packaged_one_renders_without_a_note(
    tmp_path: Path,
) -> None:
    root = repository(tmp_path, {})
    assert render_template(STATUS, root, **STATUS_VALUES) == packaged_status()
    assert not packaged_status().startswith(">")
