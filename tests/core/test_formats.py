"""Manifests and policies: examples validate, mistakes are located, round-trips hold."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from ruamel.yaml import YAML
from typer.testing import CliRunner

from bot.cli.main import app
from bot.domain.manifest import Deployment, ModelManifest, Source
from bot.formats.limits import git_entry_problem
from bot.formats.loading import InvalidFile, load_manifest_text, parse_text
from bot.formats.schemas import SCHEMA_MODELS, committed_schema_path, schema_text
from bot.formats.writing import dump_manifest
from bot.formats.yamlsource import parse_yaml
from tests.conftest import PROJECT_ROOT

runner = CliRunner()

BAD_POLICY = """\
apiVersion: promobot/v1
kind: PromotionPolicy
name: broken
compare:
  primary:
    metric: f1
    significanse: 0.05
approval:
  required_approvals: -1
on_rejected: archive
"""


def test_repository_examples_validate() -> None:
    """The product repository is its own example: its policies and manifests must be valid."""
    result = runner.invoke(
        app, ["validate", str(PROJECT_ROOT / "policies"), str(PROJECT_ROOT / "model-manifests")]
    )
    assert result.exit_code == 0, result.output
    assert "file(s) valid" in result.output


def test_validate_names_file_line_column_and_field(tmp_path: Path) -> None:
    """Every problem is reported at the offending node, with a hint, and exit 1."""
    bad = tmp_path / "broken.yaml"
    bad.write_text(BAD_POLICY)
    result = runner.invoke(app, ["validate", str(tmp_path)])
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert any(
        line.endswith(
            "compare.primary.significanse: unknown field; remove it or check its "
            "spelling against `promobot schema`"
        )
        and ":7:5:" in line
        for line in lines
    )
    assert any(":9:3: approval.required_approvals:" in line for line in lines)
    assert any(":10:1: on_rejected:" in line for line in lines)
    assert lines[-1].startswith("hint:")
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a: [1, 2\nb: 3\n", ":2:"),
        ("- just\n- a list\n", "expected a YAML mapping"),
        ("kind: Deployment\n", "kind: expected one of ModelManifest, PromotionPolicy"),
        ("apiVersion: promobot/v1\nkind: ModelManifest\nmodel: x\n", "required field is missing"),
        ("a: 1\na: 2\n", ":2:1: a: duplicate key 'a' (first at line 1)"),
    ],
)
def test_malformed_files_are_problems_not_tracebacks(
    tmp_path: Path, text: str, expected: str
) -> None:
    """Syntax errors, wrong kinds and missing fields all come back as located problems."""
    path = tmp_path / "x.yaml"
    path.write_text(text)
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 1
    assert expected in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_manifest_must_live_at_its_path() -> None:
    """model-manifests/<environment>/<model>.yaml is how git finds a model: enforce it."""
    text = (PROJECT_ROOT / "model-manifests/production/churn-classifier.yaml").read_text()
    with pytest.raises(
        InvalidFile, match=r"must live at model-manifests/production/churn-classifier\.yaml"
    ):
        parse_text(text, "model-manifests/staging/churn-classifier.yaml")


def test_unknown_metric_needs_a_direction(tmp_path: Path) -> None:
    """A custom metric without a direction would be guessed; ask the author instead."""
    path = tmp_path / "p.yaml"
    path.write_text(
        BAD_POLICY.replace("    significanse: 0.05\n", "")
        .replace("metric: f1", "metric: uplift")
        .replace("required_approvals: -1", "required_approvals: 1")
        .replace("on_rejected: archive", "on_rejected: draft")
    )
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 1
    assert ":6:5: compare.primary.metric: unknown metric 'uplift'" in result.output


def test_missing_path_is_exit_2(tmp_path: Path) -> None:
    """A typo in the path is not 'all valid'."""
    result = runner.invoke(app, ["validate", str(tmp_path / "nope")])
    assert result.exit_code == 2


@pytest.mark.parametrize("kind", sorted(SCHEMA_MODELS))
def test_committed_schemas_match_models(kind: str) -> None:
    """Editors validate against the committed schema; it must say what the models say.

    Regenerate with: promobot schema manifest --write && promobot schema policy --write
    """
    committed = committed_schema_path(kind).read_text()
    assert committed == schema_text(kind), (
        f"bot/schemas/{kind}.schema.json is stale; run `promobot schema {kind} --write`"
    )
    assert json.loads(committed)["additionalProperties"] is False


def test_every_field_has_a_description() -> None:
    """The schema is the reference documentation; no field may be left unexplained."""
    for kind in SCHEMA_MODELS:
        schema = json.loads(schema_text(kind))
        for name, definition in [("", schema), *schema.get("$defs", {}).items()]:
            for field, prop in definition.get("properties", {}).items():
                assert prop.get("description"), f"{kind}: {name}.{field} has no description"


names = st.from_regex(r"[a-z0-9][a-z0-9-]{0,20}", fullmatch=True)


@given(
    model=names,
    environment=names,
    version=st.integers(1, 10_000).map(str),
    metrics=st.dictionaries(names, st.floats(-1e6, 1e6, allow_nan=False), max_size=5),
    steps=st.sets(st.integers(1, 99), max_size=4).map(lambda s: (*sorted(s), 100)),
)
def test_manifest_yaml_round_trip(
    model: str, environment: str, version: str, metrics: dict[str, float], steps: tuple[int, ...]
) -> None:
    """Whatever the bot writes, it reads back unchanged."""
    manifest = ModelManifest.model_validate(
        {
            "apiVersion": "promobot/v1",
            "kind": "ModelManifest",
            "model": model,
            "environment": environment,
            "version": version,
            "source": Source(uri=f"models:/{model}/{version}"),
            "metrics": metrics,
            "deployment": Deployment(endpoint=model, canary_steps=steps),
        }
    )
    text = dump_manifest(manifest)
    assert load_manifest_text(text, manifest.path()) == manifest


PLAIN_SCALARS = [
    *("0", "-0", "+1", "017", "08", "1_000", "0o17", "+0o7", "0b101", "-0x1F", "0x"),
    *("1.5", "1.", ".5", "-.5", "1e3", "1E+3", "1.5e-3", "1_0.5_", "._5", "12e", "1.5.5"),
    *(".inf", "-.Inf", "+.INF", ".nan", ".NaN", "nan", "inf", "-.nan"),
    *("true", "True", "TRUE", "tRUE", "yes", "No", "on", "off"),
    *("~", "null", "Null", "NULL", "", "22:00", "1:30", "<<", "=", "+", ".", "abc"),
    *("'1'", '"true"', "'.nan'", "!!str 5", "!!float 5", "!!int '7'", "!!bool true"),
]


def ruamel_value(scalar: str) -> object:
    """What ruamel.yaml's round-trip loader makes of `scalar`, as a plain Python value."""
    value = YAML(typ="rt").load(f"v: {scalar}\n")["v"]
    for plain in (bool, int, float, str):
        if isinstance(value, plain):
            return plain(value)
    return None if value is None else str(value.value)


@pytest.mark.parametrize("scalar", PLAIN_SCALARS)
def test_scalars_mean_what_yaml_1_2_says(scalar: str) -> None:
    """Files are read by our own event loop, not by ruamel.yaml's loader: every scalar must
    still mean what the round-trip loader (YAML 1.2, which the writer follows) makes of it."""
    expected = ruamel_value(scalar)
    found = parse_yaml(f"v: {scalar}\n", "x.yaml").data["v"]
    assert type(found) is type(expected)
    if isinstance(expected, float) and math.isnan(expected):
        assert isinstance(found, float)
        assert math.isnan(found)
    else:
        assert found == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a: !!python/object:os.system x\n", ":1:4: a: YAML tag `!!python/object:os.system`"),
        ("a: !mine {b: 1}\n", ":1:4: a: YAML tag `!mine` is not allowed"),
        ("a: !!int x\n", ":1:4: a: 'x' is not a valid `!!int`"),
        ("a: 1\n---\nb: 2\n", ":2:1: <document>: a second YAML document"),
        ("? [a]\n: 1\n", ":1:3: <document>: a mapping key must be text"),
        ("a: \x01\n", ":1:4: <yaml>: control characters are not allowed"),
        ("a: 9" + "9" * 5000 + "\n", ":1:4: a: cannot read '99999"),
    ],
)
def test_yaml_promobot_does_not_read_is_a_located_problem(text: str, expected: str) -> None:
    """Tags, several documents, complex keys and unreadable numbers: located, with a fix."""
    with pytest.raises(InvalidFile) as caught:
        parse_text(text, "x.yaml")
    assert expected in str(caught.value.problems[0])


def test_files_that_are_not_utf8_are_located(tmp_path: Path) -> None:
    """A Latin-1 file names the line and column of its first byte that is not UTF-8."""
    (tmp_path / "p.yaml").write_bytes(b"apiVersion: promobot/v1\nname: caf\xe9\n")
    result = runner.invoke(app, ["validate", str(tmp_path)])
    assert result.exit_code == 1
    assert "p.yaml:2:10: <file>: is not UTF-8 text (byte 0xe9)" in result.output


def test_a_byte_order_mark_is_not_part_of_the_file(tmp_path: Path) -> None:
    """Editors on Windows write one; it changes nothing."""
    text = (PROJECT_ROOT / "model-manifests/production/churn-classifier.yaml").read_text()
    manifest = tmp_path / "model-manifests" / "production" / "churn-classifier.yaml"
    manifest.parent.mkdir(parents=True)
    manifest.write_bytes(b"\xef\xbb\xbf" + text.encode())
    result = runner.invoke(app, ["validate", str(tmp_path / "model-manifests")])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(
    ("mode", "size", "refused"),
    [
        (0o100644, 300, None),
        (0o100755, None, None),
        ("100644", 300, None),
        ("file", 300, None),
        (0o120000, 9, "is a symbolic link"),
        ("120000", 9, "is a symbolic link"),
        ("symlink", 9, "is a symbolic link"),
        (0o160000, None, "is a submodule"),
        ("submodule", None, "is a submodule"),
        ("040000", None, "is a folder"),
        ("dir", None, "is a folder"),
        ("weird", None, "is an entry of type 'weird'"),
        (0o100644, 1_000_001, "is 1,000,001 bytes, over the limit of 1,000,000 bytes"),
    ],
)
def test_git_entries_are_read_only_when_regular_and_small(
    mode: int | str, size: int | None, refused: str | None
) -> None:
    """The bot reads manifests and policies from git trees, which carry symbolic links and
    submodules: what the CLI refuses on disk, the bot refuses in a tree."""
    problem = git_entry_problem("policies/p.yaml", mode, size)
    if refused is None:
        assert problem is None
    else:
        assert problem is not None
        assert str(problem).startswith("policies/p.yaml:1:1: <file>: ")
        assert refused in problem.message


def _manifest(model: str = "churn", *, target: str = "local", endpoint: str = "churn") -> str:
    return (
        "apiVersion: promobot/v1\nkind: ModelManifest\n"
        f"model: {model}\nenvironment: production\nversion: '7'\n"
        "source: {registry: mlflow, uri: 'models:/churn/7'}\n"
        f"deployment: {{target: {target}, endpoint: {endpoint}}}\n"
    )


@pytest.mark.parametrize(
    ("endpoint", "words"),
    [
        ("churn_prod", "letters, digits"),
        ("1churn", "letter"),
        ("c" * 50, "32"),
        ("churn-", "dash"),
    ],
)
def test_validate_refuses_endpoint_names_azure_ml_refuses(
    tmp_path: Path, endpoint: str, words: str
) -> None:
    """Found by `promobot validate`, not after a paid deployment: located at the field."""
    path = tmp_path / "model-manifests" / "production" / "churn.yaml"
    path.parent.mkdir(parents=True)
    path.write_text(_manifest(target="azureml", endpoint=endpoint))
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 1
    line = next(line for line in result.output.splitlines() if "deployment.endpoint" in line)
    assert ":7:" in line
    assert words in line
    path.write_text(_manifest(target="local", endpoint="churn-prod"))
    assert runner.invoke(app, ["validate", str(path)]).exit_code == 0


@pytest.mark.parametrize("model", ["x..", "x.lock", "x."])
def test_validate_refuses_model_names_git_refuses(tmp_path: Path, model: str) -> None:
    """The name becomes a branch: git's ref rules apply, not only the character set."""
    path = tmp_path / "model-manifests" / "production" / f"{model}.yaml"
    path.parent.mkdir(parents=True)
    path.write_text(_manifest(model=model))
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 1
    assert "model: model" in result.output
    assert "git refuses" in result.output
