"""The command line starts fast: `promobot --help`, `validate` and `schema` import only what
they use, and every command listed at the top level is the command that runs.

Timing lives in `benchmarks/cli_startup.py`; these tests check the cause instead (which
modules a command pulls in), so they hold on a busy machine too."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from bot.cli.main import COMMANDS, LazyCommand, app, load_command
from tests.conftest import PROJECT_ROOT

HEAVY = (
    "fastapi",
    "starlette",
    "uvicorn",
    "mlflow",
    "sklearn",
    "scipy",
    "pandas",
    "numpy",
    "sqlalchemy",
    "github",
    "git",
    "azure",
    "httpx",
    "jinja2",
)

IMPORTED_BY = """
import json, sys
from bot.cli.main import app
try:
    app(sys.argv[1:], prog_name="promobot")
except SystemExit as exit:
    code = exit.code
print(json.dumps({"code": code, "modules": sorted({m.split(".")[0] for m in sys.modules})}))
"""


def imported_by(*arguments: str) -> tuple[int, set[str]]:
    """Run `promobot ARGUMENTS` in a fresh interpreter; its exit code and top-level modules."""
    done = subprocess.run(
        [sys.executable, "-c", IMPORTED_BY, *arguments],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    report = json.loads(done.stdout.splitlines()[-1])
    return report["code"], set(report["modules"])


@pytest.mark.parametrize(
    "arguments",
    [
        ["--help"],
        [],
        ["validate", "policies", "model-manifests"],
        ["schema", "policy"],
        ["validate", "--help"],
    ],
    ids=["--help", "no arguments", "validate", "schema", "validate --help"],
)
def test_light_commands_import_nothing_heavy(arguments: list[str]) -> None:
    """`promobot --help` took 1.2-1.8 s when it imported FastAPI, MLflow and the store for
    commands it did not run."""
    code, modules = imported_by(*arguments)
    assert code in (0, 2)
    assert sorted(modules.intersection(HEAVY)) == []


def test_help_lists_without_importing_any_command_module() -> None:
    """The top-level help comes from the table in `bot.cli.main`, not from the commands."""
    _, modules = imported_by("--help")
    assert "pydantic" not in modules
    assert "yaml" not in modules


@pytest.mark.parametrize("command", COMMANDS, ids=[c.name for c in COMMANDS])
def test_the_table_says_what_each_command_says(command: LazyCommand) -> None:
    """The one-line help shown at the top level is the command's own first line, so the
    table cannot drift from the commands it stands for."""
    built = load_command(command, None)
    first_line = (built.help or "").strip().splitlines()[0]
    assert first_line == command.summary
    assert built.name == command.name


def test_the_top_level_help_lists_every_command_in_order() -> None:
    """Commands, then groups, as before they were loaded lazily."""
    result = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    names = [c.name for c in COMMANDS]
    shown = [line.split()[1] for line in result.output.splitlines() if line.startswith("│ ")]
    listed = [name for name in shown if name in names]
    assert listed == names
    for command in COMMANDS:
        assert command.summary in result.output


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        (["events", "--help"], "replay"),
        (["sandbox", "--help"], "github"),
        (["validate", "--help"], "Manifest and policy files or folders."),
        (["valdate"], "Did you mean 'validate'"),
    ],
)
def test_groups_subcommand_help_and_suggestions_still_work(
    arguments: list[str], expected: str
) -> None:
    """Sub-groups resolve their own subcommands; a typo still gets a suggestion."""
    result = CliRunner().invoke(app, arguments, env={"COLUMNS": "200"})
    assert expected in result.output
