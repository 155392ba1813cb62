"""`promobot doctor`: what stops promobot from working on this GitHub, before it fails.

With an App it reads each installation's granted permissions and names every one promobot
needs and lacks, lists the repositories it serves (those that hold `policies/`), and
finds repositories whose own policies claim the same models (a registry event for such a
model would be proposed nowhere). With a token it checks that the repository can be read.
`promobot serve` runs the same checks at start-up and `/readyz` reports their errors.
"""

from __future__ import annotations

import enum
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from bot.domain.claims import RepositoryView, overlapping_claims
from bot.domain.layout import POLICY_FOLDER, is_yaml
from bot.errors import PromobotError
from bot.forge.permissions import describe_need, missing_permissions
from bot.forge.settings import GitHubSettings
from bot.workflows.inputs import read_policies

log = logging.getLogger(__name__)


class Severity(enum.StrEnum):
    """How much a finding matters."""

    OK = "ok"
    WARNING = "warning"
    ERROR = "error"


@dataclass(frozen=True)
class Finding:
    """One thing the doctor found."""

    severity: Severity
    subject: str
    message: str

    def __str__(self) -> str:
        return f"{self.severity.value:<7} {self.subject}: {self.message}"


def diagnose(github: GitHubSettings) -> list[Finding]:
    """Every finding about the GitHub side of the configuration."""
    from bot.forge.github import GitHubForge  # noqa: PLC0415 - PyGithub only when used

    if not github.uses_app:
        return _diagnose_token(github)
    try:
        from bot.forge.installations import list_installations  # noqa: PLC0415

        installations = list_installations(github)
    except PromobotError as error:
        return [Finding(Severity.ERROR, "github app", str(error))]
    if not installations:
        return [Finding(Severity.ERROR, "github app", "the App is installed nowhere")]
    findings: list[Finding] = []
    views: dict[str, RepositoryView] = {}
    for installation in installations:
        subject = f"installation {installation.id} ({installation.account})"
        missing = missing_permissions(installation.permissions)
        findings += [
            Finding(Severity.ERROR, subject, f"missing permission {describe_need(need)}")
            for need in missing
        ]
        if not missing:
            findings.append(Finding(Severity.OK, subject, "has every permission promobot needs"))
        for name in installation.repositories:
            with GitHubForge(github, repository=name, installation_id=installation.id) as forge:
                if not [p for p in forge.list_files(POLICY_FOLDER) if is_yaml(p)]:
                    continue
                try:
                    views[name] = RepositoryView(read_policies(forge), frozenset())
                except PromobotError as error:
                    findings.append(Finding(Severity.ERROR, name, str(error)))
                    continue
            findings.append(Finding(Severity.OK, name, "served (it holds policies/)"))
    if not views:
        findings.append(
            Finding(Severity.ERROR, "github app", "no installed repository holds policies/")
        )
    findings += [
        Finding(Severity.ERROR, "claims", problem) for problem in overlapping_claims(views)
    ]
    return findings


def _diagnose_token(github: GitHubSettings) -> list[Finding]:
    from bot.forge.github import GitHubForge  # noqa: PLC0415 - PyGithub only when used

    subject = github.repository or "github"
    try:
        with GitHubForge(github) as forge:
            forge.default_branch()
            files = forge.list_files(POLICY_FOLDER)
    except PromobotError as error:
        return [Finding(Severity.ERROR, subject, str(error))]
    findings = [Finding(Severity.OK, subject, "readable with the token")]
    if not [p for p in files if is_yaml(p)]:
        findings.append(Finding(Severity.ERROR, subject, "holds no policies/"))
    findings.append(
        Finding(
            Severity.WARNING,
            subject,
            "token mode: the verdict is a commit status (only the bot's own counts), and "
            "repository_dispatch, which reaches Apps only, cannot trigger proposals",
        )
    )
    return findings


class Readiness:
    """The doctor's errors, for `/readyz`: checked at start and again every `every` seconds."""

    def __init__(
        self,
        github: GitHubSettings,
        *,
        every: float = 600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._github = github
        self._every = every
        self._clock = clock
        self._checked: tuple[float, list[str]] | None = None
        self._lock = threading.Lock()

    def problems(self) -> list[str]:
        """The current errors; an empty list when promobot can work."""
        with self._lock:
            if self._checked is None or self._clock() - self._checked[0] >= self._every:
                findings = diagnose(self._github)
                for finding in findings:
                    if finding.severity is not Severity.OK:
                        log.warning("doctor: %s", finding)
                errors = [str(f) for f in findings if f.severity is Severity.ERROR]
                self._checked = (self._clock(), errors)
            return list(self._checked[1])
