"""The decision record beside each manifest: written by the promotion commit, checked
against the registry and the evaluation, read back by `promobot history`, signed when a
key is configured."""

from __future__ import annotations

import dataclasses
import json
import subprocess
from pathlib import Path

import jsonschema
from typer.testing import CliRunner

from bot.cli.main import app
from bot.domain.record import DecisionRecord, record_path
from bot.formats.schemas import committed_schema_path
from bot.recipe import Recipe
from bot.signing import SshSigner
from bot.workflows.recheck import recheck
from tests.stages.conftest import Staged
from tests.support.github_sandbox import REPO_NAME
from tests.support.mlflow_models import MODEL

RECORD = record_path(MODEL, "staging")


def _clone(staged: Staged, into: Path) -> Path:
    bare = staged.world.sandbox.bare_path(REPO_NAME)
    subprocess.run(["git", "clone", "--quiet", str(bare), str(into)], check=True)
    return into


def _cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def test_the_promotion_commit_writes_a_record_that_matches_its_schema(staged: Staged) -> None:
    staged.registered(Recipe.BETTER)
    [number] = staged.open_promotions("staging")
    pr = staged.world.forge.get_pull_request(number)
    assert sorted(pr.files or ()) == sorted([RECORD, f"model-manifests/staging/{MODEL}.yaml"])
    text = staged.world.forge.read_file(RECORD, pr.head_sha)
    assert text is not None
    document = json.loads(text)
    schema = json.loads(committed_schema_path("decision").read_text())
    jsonschema.validate(document, schema)
    record = DecisionRecord.model_validate(document)
    v1, v2 = staged.version(Recipe.BASELINE), staged.version(Recipe.BETTER)
    assert (record.version, record.champion_version, record.verdict.value) == (v2, v1, "promote")
    assert record.policy.names[0] == "churn-staging"
    assert record.comparison.provenance.challenger_run_id == (
        staged.world.registry.version(Recipe.BETTER).run_id
    )
    assert len(record.policy.sha256) == 64
    assert recheck(staged.world.services, pr).passed


def test_check_refuses_a_record_that_claims_what_the_evidence_does_not_give(
    staged: Staged,
) -> None:
    """Someone with write access edits the record on the promotion branch."""
    staged.registered(Recipe.BETTER)
    [number] = staged.open_promotions("staging")
    pr = staged.world.forge.get_pull_request(number)
    repo = staged.world.sandbox.github("bob").get_repo(REPO_NAME)
    current = repo.get_contents(RECORD, ref=pr.head_ref)
    document = json.loads(current.decoded_content)  # type: ignore[union-attr]
    document["comparison"]["metrics"]["f1"]["challenger"] = 0.99
    document["comparison"]["provenance"]["data_sha256"] = "0" * 64
    tampered = json.dumps(document, indent=2) + "\n"
    repo.update_file(RECORD, "better numbers", tampered, current.sha, branch=pr.head_ref)  # type: ignore[union-attr]

    report = recheck(staged.world.services, staged.world.forge.get_pull_request(number))
    assert not report.passed
    failures = "\n".join(report.failures)
    assert f"{RECORD}: comparison.metrics.f1 does not match the evaluation" in failures
    assert f"{RECORD}: comparison.provenance.data_sha256 does not match the registry" in failures


def test_history_reads_the_records_and_approvals_and_still_reads_commits_without_one(
    staged: Staged, tmp_path: Path
) -> None:
    staged.registered(Recipe.BETTER)
    [number] = staged.open_promotions("staging")
    staged.approve_and_merge(number)
    clone = _clone(staged, tmp_path / "clone")

    code, output = _cli(
        "history", MODEL, "--environment", "staging", "--repo", str(clone), "--format", "json"
    )
    assert code == 0, output
    newest, seeded = json.loads(output)["entries"]
    assert newest["approved_by"] == ["carol"]
    assert newest["record"]["version"] == staged.version(Recipe.BETTER)
    assert newest["record"]["verdict"] == "promote"
    assert newest["record"]["comparison"]["metrics"]["f1"]["challenger"] > 0
    assert seeded["record"] is None, "the seeded commit predates records"

    code, table = _cli("history", MODEL, "--environment", "staging", "--repo", str(clone))
    assert code == 0 and "(approved: carol)" in table

    code, status = _cli("status", MODEL, "--repo", str(clone))
    assert code == 0, status
    staging_row = next(line for line in status.splitlines() if line.startswith("staging"))
    assert f"v{staged.version(Recipe.BETTER)}" in staging_row and f"#{number}" in staging_row
    assert "its soak, until" in staging_row


def test_a_signed_record_verifies_with_ssh_keygen_and_promobot_and_fails_once_edited(
    staged: Staged, tmp_path: Path
) -> None:
    key = tmp_path / "records-key"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "promobot", "-f", str(key)],
        check=True,
    )
    allowed = tmp_path / "allowed_signers"
    kind, public = Path(f"{key}.pub").read_text().split()[:2]
    allowed.write_text(f"promobot {kind} {public}\n")
    staged.world.services = dataclasses.replace(
        staged.world.services, sign_record=SshSigner(key).sign
    )
    staged.workflows = dataclasses.replace(staged.workflows, services=staged.world.services)

    staged.registered(Recipe.BETTER)
    [number] = staged.open_promotions("staging")
    pr = staged.world.forge.get_pull_request(number)
    assert f"{RECORD}.sig" in (pr.files or ())
    assert recheck(staged.world.services, pr).passed, "the signature is part of the promotion"
    staged.approve_and_merge(number)
    clone = _clone(staged, tmp_path / "clone")
    record, signature = clone / RECORD, clone / f"{RECORD}.sig"

    code, output = _cli("verify-record", str(record), "--allowed-signers", str(allowed))
    assert code == 0, output
    assert 'Good "promobot-decision" signature for promobot' in output
    with record.open("rb") as text:
        own = subprocess.run(
            [
                *("ssh-keygen", "-Y", "verify", "-f", str(allowed), "-I", "promobot"),
                *("-n", "promobot-decision", "-s", str(signature)),
            ],
            stdin=text,
            capture_output=True,
            check=False,
        )
    assert own.returncode == 0, own.stderr

    record.write_text(record.read_text().replace('"promote"', '"reject"'))
    code, output = _cli("verify-record", str(record), "--allowed-signers", str(allowed))
    assert code == 1 and "incorrect signature" in output
