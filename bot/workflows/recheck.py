"""Recheck a promotion pull request through the forge and set the policy status on its head."""

from __future__ import annotations

from bot.domain.layout import promotion_of
from bot.forge.base import CommitState, PullRequestInfo
from bot.workflows.check import CheckReport, check_change
from bot.workflows.services import Services


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
    state = CommitState.SUCCESS if report.passed else CommitState.FAILURE
    services.forge.set_commit_status(
        pr.head_sha, state, report.summary(), context=services.status_context
    )
    return report
