"""A team member against the command parser: a command counts only where a reader of
the rendered comment sees it at the start of a line, never inside code, a quotation or
an HTML comment."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.domain.commands import Command, parse_command

HIDDEN = {
    "backtick-fence": "Try this:\n\n```\n/promobot hold\n```\n",
    "tilde-fence": "~~~sh\n/promobot hold\n~~~\n",
    "long-fence-with-inner-fence": "````\n```\n/promobot hold\n```\n````\n",
    "unclosed-fence": "```\n/promobot hold\n",
    "indented-code": "Example:\n\n    /promobot hold\n",
    "html-comment-block": "<!--\n/promobot hold\n-->\n",
    "html-comment-one-line": "<!-- /promobot hold -->",
    "html-comment-inline": "Looks good <!-- reviewer notes\n/promobot hold\n--> to me.",
    "inline-code": "`/promobot hold`",
    "inline-code-spanning-lines": "Run ``\n/promobot hold\n`` later",
    "block-quote": "> /promobot hold\n\nquoting the last comment",
    "nested-block-quote": "> > /promobot hold\n",
    "quote-with-lazy-line": "> earlier\n/promobot hold\n",
    "list-item": "- /promobot hold\n",
    "quote-in-list": "1. > /promobot hold\n",
    "html-block": "<div>\n/promobot hold\n</div>\n",
    "atx-heading": "# /promobot hold\n",
    "mid-line": "please ask /promobot hold later",
}


@pytest.mark.parametrize("body", HIDDEN.values(), ids=HIDDEN.keys())
def test_a_command_a_reader_does_not_see_as_one_is_not_run(body: str) -> None:
    """`/promobot hold` in a fenced, `~~~` or indented block or an HTML comment ran."""
    assert parse_command(body) is None


VISIBLE = {
    "alone": ("/promobot hold", Command.HOLD),
    "after-prose": ("Thanks!\n/promobot merge\n", Command.MERGE),
    "after-a-closed-fence": ("```\n/promobot hold\n```\n/promobot merge\n", Command.MERGE),
    "after-an-html-comment": ("<!-- /promobot hold -->\n\n/promobot explain", Command.EXPLAIN),
    "after-a-quote": ("> /promobot hold\n\n/promobot unhold", Command.UNHOLD),
    "inside-details": ("<details>\n\n/promobot recheck\n\n</details>\n", Command.RECHECK),
    "with-a-trailing-comment": ("/promobot merge <!-- after CI -->", Command.MERGE),
    "bold": ("/promobot **rollback**", Command.ROLLBACK),
    "crlf": ("Thanks\r\n/promobot hold\r\n", Command.HOLD),
    "setext-heading": ("/promobot hold\n---\n", Command.HOLD),
    "indented-three-spaces": ("   /promobot hold", Command.HOLD),
}


@pytest.mark.parametrize(("body", "command"), VISIBLE.values(), ids=VISIBLE.keys())
def test_a_command_a_reader_sees_is_run(body: str, command: Command) -> None:
    """The first command a reader sees counts, wherever else the text mentions one."""
    parsed = parse_command(body)
    assert parsed is not None
    assert parsed.command is command


def test_inline_code_in_the_word_is_an_unknown_command() -> None:
    """`/promobot `merge`` reads as the command word in code: asked about, not run."""
    parsed = parse_command("/promobot `merge`")
    assert parsed is not None
    assert parsed.command is None


WRAPPERS = [
    "```\n{}\n```",
    "~~~\n{}\n~~~",
    "    {}",
    "<!--\n{}\n-->",
    "> {}",
    "`{}`",
]


@settings(
    max_examples=200,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    command=st.sampled_from([c.value for c in Command]),
    wrapper=st.sampled_from(WRAPPERS),
    before=st.text(st.sampled_from("abc \n"), max_size=20),
)
def test_any_command_in_code_quotes_or_comments_is_never_run(
    command: str, wrapper: str, before: str
) -> None:
    """Whatever plain prose comes first, a wrapped command stays hidden."""
    body = f"{before.strip()}\n\n{wrapper.format('/promobot ' + command)}\n"
    assert parse_command(body) is None


@settings(max_examples=100, derandomize=True, database=None, deadline=None)
@given(st.text(st.sampled_from("[]*_`<>!-#~\\ \n/promobtlhd&;"), max_size=2000))
def test_any_text_parses_without_error(body: str) -> None:
    """Comments are written by anyone with an account: the parser never raises."""
    parse_command(body)
