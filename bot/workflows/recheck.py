"""Recheck a promotion pull request through the forge and set the policy status on its head."""

from __future__ import annotations

from bot.domain.layout import promotion_of
from bot.forge.base import PullRequestInfo
from bot.workflows.check import CheckReport, check_change
from bot.workflows.services import Services
from bot.workflows.verdicts import post_verdict


def recheck(services: Services, pr: PullRequestInfo) -> CheckReport:
    """`promobot check` for pull request `pr`, with the result as a commit status on its head."""
    base_ref = pr.base_ref
    changed = list(pr.files or services.forge.get_pull_request(pr.number).files or ())
    report = check_change(
        services.data_root,
        services.tracking_uri,
        services.registry,
        changed,
        read_head=lambda path: services.forge.read_file(path, pr.head_sha),
        read_base=lambda path: services.forge.read_file(path, base_ref),
        list_base=lambda folder: services.forge.list_files(folder, base_ref),
        promotion=promotion_of(pr.head_ref),
    )
    post_verdict(
        services,
        pr.head_sha,
        report.passed,
        report.summary(),
        text="\n".join(
            [
                *(f"- FAIL {line}" for line in report.failures),
                *(f"- ok {line}" for line in report.notes),
            ]
        ),
        annotations=report.annotations,
    )
    return report
