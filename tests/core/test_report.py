"""The report and the pull request body, compared with golden files.

Regenerate after an intended change with:
    PROMOBOT_UPDATE_GOLDEN=1 .venv/bin/pytest tests/core/test_report.py
"""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path

import pytest

from bot.domain.comparison import Comparison, Provenance, Task
from bot.domain.manifest import RegistryKind
from bot.domain.policy import GuardrailRule, ThresholdRule
from bot.domain.verdict import decide
from bot.registry.base import ModelVersionInfo
from bot.report.render import ReportContext, render_report, render_template
from tests.factories import make_metric, make_policy

GOLDEN = Path(__file__).parent / "golden"
WHEN = dt.datetime(2026, 11, 29, 12, 34, 56, tzinfo=dt.UTC)


def normalise(text: str) -> str:
    """Volatile values (SHAs, times) replaced by placeholders."""
    text = re.sub(r"\b[0-9a-f]{32,64}\b", "<sha>", text)
    return re.sub(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC", "<time>", text)


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("PROMOBOT_UPDATE_GOLDEN") == "1":
        path.write_text(normalise(text))
    assert normalise(text) == path.read_text(), (
        f"{name} changed; if intended, run "
        "PROMOBOT_UPDATE_GOLDEN=1 pytest tests/core/test_report.py"
    )


def comparison() -> Comparison:
    return Comparison(
        task=Task.BINARY,
        n=3000,
        metrics={
            "accuracy": make_metric(
                "accuracy", 0.7543, 0.8687, ci_half_width=0.0161, p_value=0.0004998
            ),
            "f1": make_metric("f1", 0.7584, 0.8645, ci_half_width=0.016, p_value=0.0004998),
            "roc_auc": make_metric(
                "roc_auc", 0.8361, 0.9427, ci_half_width=0.0122, p_value=4.7e-66
            ),
            "log_loss": make_metric(
                "log_loss", 0.5013, 0.3047, ci_half_width=0.019, p_value=2.3e-86
            ),
        },
        notes=("precision and recall left out to keep the example short",),
        provenance=Provenance(
            data_sha256="33479c49d7192fffd48e9624b9fb913c4b205167431d7bfa61fe08484a42039b",
            data_path="churn-eval.parquet",
            label="churned",
            champion_uri="models:/churn-classifier/1",
            challenger_uri="models:/churn-classifier/2",
            champion_run_id="bb1dd53d0fd64a14bb68cdc11c28010a",
            challenger_run_id="1271700700574e8f83bd4e5f8e5f64a5",
            code_version="0.1.0",
            command=(
                "promobot evaluate --champion models:/churn-classifier/1 "
                "--challenger models:/churn-classifier/2 --data churn-eval.parquet --label churned"
            ),
        ),
    )


POLICY = make_policy(
    min_absolute_change=0.005,
    guardrails=(GuardrailRule(metric="accuracy", max_regression=0.01),),
    thresholds=(ThresholdRule(metric="roc_auc", threshold=0.95),),
)
CTX = ReportContext(
    model="churn-classifier",
    environment="production",
    champion_version="1",
    challenger_version="2",
    policy_names=("churn-team",),
    generated_at=WHEN,
)


@pytest.mark.parametrize("name", ["report-reject.md"])
def test_report_golden(name: str) -> None:
    """A reviewer reads this table and checklist; any change to it must be deliberate."""
    verdict = decide(comparison(), POLICY)
    check_golden(name, render_report(comparison(), verdict, CTX))


def test_pull_request_body_golden() -> None:
    """The bot's part of the pull request body, with the report inside."""
    verdict = decide(comparison(), POLICY)
    report = render_report(comparison(), verdict, CTX)
    body = render_template(
        "pr_body.md.j2",
        None,
        ctx=CTX,
        verdict=verdict,
        report=report,
        policy=POLICY,
        challenger=ModelVersionInfo(
            registry=RegistryKind.MLFLOW,
            model="churn-classifier",
            version="2",
            uri="models:/churn-classifier/2",
            run_id="1271700700574e8f83bd4e5f8e5f64a5",
        ),
    )
    check_golden("pr-body.md", body)


def test_repository_templates_override_packaged_ones(tmp_path: Path) -> None:
    """A model repository's templates/ wins over the packaged default of the same name."""
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "report.md.j2").write_text("custom {{ ctx.model }}\n")
    verdict = decide(comparison(), POLICY)
    assert render_report(comparison(), verdict, CTX, tmp_path) == "custom churn-classifier\n"
