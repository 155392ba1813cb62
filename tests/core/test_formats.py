"""Manifests and policies: examples validate, mistakes are located, round-trips hold."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from bot.cli.main import app
from bot.domain.manifest import Deployment, ModelManifest, Source
from bot.formats.loading import InvalidFile, load_manifest_text, parse_text
from bot.formats.schemas import SCHEMA_MODELS, committed_schema_path, schema_text
from bot.formats.writing import dump_manifest
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
        ("a: 1\na: 2\n", "<yaml>"),
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


def test_manifest_must_live_at_its_path(tmp_path: Path) -> None:
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
