"""A repository writer against the parser: manifests and policies are theirs to write, and
both `promobot validate` and the bot read them. Whatever the file, the answer is a located
message, quickly, and never a traceback, a hang or gigabytes of memory."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner, Result

from bot.cli.main import app
from bot.formats.loading import InvalidFile, load_manifest_text, load_policy_texts, parse_text
from bot.formats.yamlsource import Problem

pytestmark = pytest.mark.timeout(120)

ROOT = Path(__file__).resolve().parents[2]
MANIFEST_PATH = "model-manifests/production/churn-classifier.yaml"
MANIFEST = (ROOT / MANIFEST_PATH).read_text()
POLICY_HEAD = "apiVersion: promobot/v1\nkind: PromotionPolicy\nname: hostile\n"
MANIFEST_HEAD = "apiVersion: promobot/v1\nkind: ModelManifest\n"
SIZE_LIMIT = 1_000_000
"""The documented limit: files over 1 MB are refused before parsing."""
CPU_BOUND_S = 1.0
"""A megabyte of anything is answered in well under this (about 0.02 s measured); the
parser that expanded aliases and recursed took from 4 s to minutes on the same inputs."""

runner = CliRunner()


def validate(*paths: Path) -> Result:
    """`promobot validate PATHS`, in process."""
    return runner.invoke(app, ["validate", *(str(p) for p in paths)])


def assert_refused(result: Result, location: str, words: str) -> None:
    """Exit 1, one located problem that says `words`, the usual hint, no traceback."""
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    problem = result.output.splitlines()[0]
    assert location in problem, problem
    assert words in problem, problem
    assert result.output.splitlines()[-1].startswith("hint:")


def billion_laughs(head: str, levels: int = 10, fan_out: int = 9) -> str:
    """Each anchor refers `fan_out` times to the one before: `fan_out ** levels` values."""
    lines = [head.rstrip("\n"), f"a0: &a0 [{', '.join(['lol'] * fan_out)}]"]
    for level in range(1, levels):
        lines.append(f"a{level}: &a{level} [{', '.join([f'*a{level - 1}'] * fan_out)}]")
    return "\n".join(lines) + "\n"


def problems_of(text: str, path: str = MANIFEST_PATH) -> tuple[Problem, ...]:
    """The problems `parse_text` refuses `text` with; none when it accepts it."""
    try:
        parse_text(text, path)
    except InvalidFile as exc:
        return exc.problems
    return ()


def write(path: Path, text: str) -> Path:
    """Write `text` to `path` as UTF-8; `path` back."""
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("head", [MANIFEST_HEAD, POLICY_HEAD], ids=["manifest", "policy"])
def test_alias_expansion_is_refused_at_the_first_anchor(tmp_path: Path, head: str) -> None:
    """Under 600 bytes that expand to 3.5 billion values: refused where the first anchor is,
    before anything is expanded."""
    path = write(tmp_path / "laughs.yaml", billion_laughs(head))
    assert path.stat().st_size < 1000
    line = head.count("\n") + 1
    assert_refused(validate(path), f"laughs.yaml:{line}:5: a0:", "YAML anchor `&a0` is not allowed")


def test_an_alias_alone_is_refused(tmp_path: Path) -> None:
    """An alias is refused where it stands, whether or not its anchor exists."""
    path = write(tmp_path / "alias.yaml", POLICY_HEAD + "description: *nowhere\n")
    assert_refused(validate(path), "alias.yaml:4:14: description:", "YAML alias `*nowhere`")


@pytest.mark.parametrize(
    "nested",
    [
        "x: " + "[" * 300 + "]" * 300 + "\n",
        "x: " + "{a: " * 300 + "1" + "}" * 300 + "\n",
        "".join(f"{'  ' * level}k{level}:\n" for level in range(300)) + "  " * 300 + "v\n",
    ],
    ids=["flow lists", "flow mappings", "block mappings"],
)
def test_deep_nesting_is_a_located_problem(tmp_path: Path, nested: str) -> None:
    """300 levels of nesting (under a kilobyte of flow style) once ended in a RecursionError
    traceback; now the level past the limit is named."""
    path = write(tmp_path / "deep.yaml", MANIFEST_HEAD + nested)
    assert_refused(validate(path), "deep.yaml:", "nested more than 32 levels deep")


@pytest.mark.parametrize("megabytes", [5, 50])
def test_large_files_are_refused_before_parsing(tmp_path: Path, megabytes: int) -> None:
    """Comment lines cost the old parser 3 s for 5 MB and minutes for 50 MB; a file over
    the limit is now refused by its size alone."""
    path = tmp_path / "comments.yaml"
    line = b"# " + b"x" * 77 + b"\n"
    with path.open("wb") as out:
        out.write(POLICY_HEAD.encode())
        for _ in range(megabytes * 1_000_000 // (len(line) * 1000)):
            out.write(line * 1000)
    assert path.stat().st_size > megabytes * 990_000
    assert_refused(validate(path), "comments.yaml:1:1: <file>:", "over the limit of 1,000,000")


def test_text_over_the_limit_is_refused_on_the_bot_path_too() -> None:
    """The bot reads files from git as text: the same limit holds there."""
    padding = ("# " + "x" * 77 + "\n") * (SIZE_LIMIT // 80 + 1)
    with pytest.raises(InvalidFile, match="over the limit of 1,000,000 bytes"):
        load_manifest_text(MANIFEST + padding, MANIFEST_PATH)
    with pytest.raises(InvalidFile, match="over the limit of 1,000,000 bytes"):
        load_policy_texts({"policies/p.yaml": POLICY_HEAD + padding})


@pytest.mark.parametrize("target", ["/dev/zero", "manifest"], ids=["device", "regular file"])
def test_symbolic_links_are_not_followed(tmp_path: Path, target: str) -> None:
    """git carries symbolic links; one to /dev/zero once read until MemoryError. No link is
    followed, even one to a harmless file, because the bot never follows them either."""
    folder = tmp_path / "policies"
    folder.mkdir()
    real = write(tmp_path / "real.yaml", POLICY_HEAD)
    (folder / "zero.yaml").symlink_to(target if target.startswith("/") else real)
    assert_refused(validate(folder), "zero.yaml:1:1: <file>:", "is a symbolic link")


def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    """Opening a named pipe for reading blocks until someone writes: never open one."""
    os.mkfifo(tmp_path / "pipe.yaml")
    assert_refused(validate(tmp_path), "pipe.yaml:1:1: <file>:", "is a named pipe (FIFO)")


def test_a_device_named_on_the_command_line_is_refused() -> None:
    """Only regular files are read, whatever the command line names."""
    assert_refused(validate(Path("/dev/null")), "/dev/null:1:1: <file>:", "character device")


def _megabyte(unit: str, head: str = POLICY_HEAD, tail: str = "") -> str:
    count = (SIZE_LIMIT - len(head) - len(tail) - 100) // len(unit)
    return head + unit * count + tail


DENSE_MEGABYTES = {
    "flow mappings in a list": _megabyte("{a: 1, b: [x, y]}, ", POLICY_HEAD + "x: [", "]\n"),
    "many keys": POLICY_HEAD
    + "x:\n"
    + "".join(f"  key_{i:06d}: 0.{i % 1000:03d}\n" for i in range(SIZE_LIMIT // 24)),
    "a long block list": _megabyte("  - a\n", POLICY_HEAD + "x:\n"),
    "deep then wide": _megabyte("[1, ", POLICY_HEAD + "x: "),
}
PLAIN_MEGABYTES = {
    "comments": _megabyte("# " + "x" * 60 + "\n"),
    "one long plain scalar": _megabyte("word ", POLICY_HEAD + "description: ", "\n"),
    "one long quoted scalar": _megabyte("y", POLICY_HEAD + "description: '", "'\n"),
    "a literal block": _megabyte("  " + "z" * 70 + "\n", POLICY_HEAD + "description: |\n"),
}


def cpu_seconds_to_answer(text: str) -> tuple[float, tuple[Problem, ...]]:
    """CPU time `parse_text` takes on `text`, and the problems it found."""
    started = time.process_time()
    problems = problems_of(text, "policies/big.yaml")
    return time.process_time() - started, problems


@pytest.mark.parametrize("text", DENSE_MEGABYTES.values(), ids=DENSE_MEGABYTES.keys())
def test_a_dense_megabyte_is_refused_within_a_second_of_cpu(text: str) -> None:
    """Parsing is linear and stops at the first limit: a megabyte of dense YAML is refused
    at the node past the limit in a fraction of a second of CPU.

    A timed assertion is unavoidable here, so the bound is fifty times the measured
    figure (the parser before these limits took 4 to 18 s on these inputs)."""
    assert len(text.encode()) <= SIZE_LIMIT
    elapsed, problems = cpu_seconds_to_answer(text)
    assert elapsed < CPU_BOUND_S
    assert len(problems) == 1
    assert problems[0].line > 3
    assert "more than" in problems[0].message


@pytest.mark.parametrize("text", PLAIN_MEGABYTES.values(), ids=PLAIN_MEGABYTES.keys())
def test_a_megabyte_of_text_within_the_limits_is_accepted(text: str) -> None:
    """The other side of the limits: a file just under the size limit whose bulk is
    comments or long strings is valid, and read as quickly."""
    assert len(text.encode()) <= SIZE_LIMIT
    elapsed, problems = cpu_seconds_to_answer(text)
    assert elapsed < CPU_BOUND_S
    assert problems == ()


NOT_FINITE = [
    (
        MANIFEST.replace("  f1: 0.8327\n", "  f1: .nan\n"),
        MANIFEST_PATH,
        ":12:3: metrics.f1:",
    ),
    (
        MANIFEST.replace("  roc_auc: 0.9214\n", "  roc_auc: -.inf\n"),
        MANIFEST_PATH,
        ":13:3: metrics.roc_auc:",
    ),
    (
        POLICY_HEAD + "compare:\n  primary: {metric: f1, threshold: .nan}\n",
        "policies/p.yaml",
        ":5:25: compare.primary.threshold:",
    ),
    (
        POLICY_HEAD + "compare:\n  primary: {metric: f1}\n  thresholds:\n"
        "    - {metric: roc_auc, threshold: .inf}\n",
        "policies/p.yaml",
        ":7:25: compare.thresholds[0].threshold:",
    ),
    (
        POLICY_HEAD + "compare:\n  primary: {metric: f1}\n  guardrails:\n"
        "    - {metric: accuracy, max_regression: .NaN}\n",
        "policies/p.yaml",
        ":7:26: compare.guardrails[0].max_regression:",
    ),
    (
        POLICY_HEAD + "verify:\n  max_error_rate: 'nan'\n",
        "policies/p.yaml",
        ":5:3: verify.max_error_rate:",
    ),
]


@pytest.mark.parametrize(("text", "relative", "location"), NOT_FINITE)
def test_nan_and_infinity_are_refused(
    tmp_path: Path, text: str, relative: str, location: str
) -> None:
    """NaN compares false with everything, so a NaN bound or metric decides a rule by
    accident (a guardrail with a NaN margin never fails): refused where it is written."""
    path = tmp_path / relative
    path.parent.mkdir(parents=True)
    write(path, text)
    folder = tmp_path / relative.split("/", maxsplit=1)[0]
    result = runner.invoke(app, ["validate", str(folder)])
    assert_refused(result, location, "NaN and infinite values are not allowed")


FRAGMENTS = st.sampled_from(
    [
        "&a ",
        "&b ",
        "*a",
        "*b",
        "[",
        "]",
        "{",
        "}",
        ", ",
        ": ",
        "- ",
        "? ",
        "\n",
        "  ",
        "\t",
        "'",
        '"',
        "# c",
        "---\n",
        "...\n",
        "<<: ",
        "!!python/object:os.system ",
        "!x ",
        "! ",
        "!!int ",
        "%YAML 1.1\n",
        "|\n",
        ">-\n",
        ".nan",
        "-.inf",
        "1e999",
        "0x" + "f" * 40,
        "9" * 5000,
        "key",
        "metrics",
        "\x00",
        "\ufeff",
        "\ud800",
        "é",
    ]
)
TEXT = st.lists(FRAGMENTS | st.text(max_size=4), max_size=120).map("".join)
REPEATED = st.builds(lambda unit, count: unit * count, TEXT, st.integers(1, 3000))
LAUGHS = st.builds(
    billion_laughs,
    st.sampled_from([MANIFEST_HEAD, POLICY_HEAD]),
    st.integers(2, 12),
    st.integers(2, 12),
)
NESTED = st.builds(
    lambda opening, closing, depth: "x: " + opening * depth + "1" + closing * depth,
    st.sampled_from(["[", "{a: ", "- "]),
    st.sampled_from(["]", "}", ""]),
    st.integers(1, 2000),
)
HOSTILE = st.builds(
    lambda head, body: head + body,
    st.sampled_from(["", MANIFEST_HEAD, POLICY_HEAD, MANIFEST]),
    st.one_of(TEXT, REPEATED, LAUGHS, NESTED),
)


@settings(
    max_examples=300,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(text=HOSTILE)
def test_generated_hostile_yaml_gets_a_located_answer_in_bounded_time(text: str) -> None:
    """Whatever the text, the loader returns a model or refuses with located problems; any
    other exception, or a second of CPU, is a bug."""
    started = time.process_time()
    for problem in problems_of(text):
        assert problem.path == MANIFEST_PATH
        assert problem.line >= 1
        assert problem.column >= 1
        assert problem.message
    elapsed = time.process_time() - started
    assert elapsed < CPU_BOUND_S, f"{elapsed:.2f} s of CPU"
