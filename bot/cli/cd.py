"""`promobot apply`, `promobot diff` and `promobot history`: CD from a local checkout.

Settings come from the environment (`bot.settings`). Progress goes to stderr,
results to stdout; user errors exit 2 without a traceback.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from bot.app import RegistryPool, TargetPool, build_services, close_adapter, optional_forge
from bot.domain.layout import manifest_path
from bot.errors import PromobotError, UserInputError
from bot.forge.base import Forge
from bot.formats.loading import InvalidFile, load_manifest_text
from bot.gitrepo import GitRepo
from bot.settings import Settings, load_settings
from bot.workflows.apply import ApplyReport, ApplyStatus, apply_changes
from bot.workflows.diff import DriftReport, DriftStatus, diff_manifests
from bot.workflows.history import HistoryEntry, key_metrics, read_history
from bot.workflows.inputs import utcnow
from bot.workflows.stages import advance_stages, health_from
from bot.workflows.status import model_status
from bot.workflows.verify import verify_applied


class Format(StrEnum):
    """Output format."""

    TABLE = "table"
    JSON = "json"


RepoOption = Annotated[
    Path, typer.Option("--repo", help="Local checkout of the GitOps repository.")
]
BranchOption = Annotated[
    str, typer.Option("--branch", help="Branch (or ref) holding the desired state.")
]
FormatOption = Annotated[Format, typer.Option("--format", help="table or json.")]


def _say(line: str) -> None:
    typer.echo(line, err=True)


@contextmanager
def user_errors() -> Iterator[None]:
    """A promobot error becomes a message and exit code 2, never a traceback."""
    try:
        yield
    except PromobotError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc


def apply(
    repo: RepoOption = Path("."),
    since: Annotated[
        str | None,
        typer.Option("--since", help="Count changes from this commit instead of the last applied."),
    ] = None,
    branch: BranchOption = "main",
    commit: Annotated[
        str | None,
        typer.Option(
            "--commit",
            help="Apply this commit instead of BRANCH's head, e.g. a pipeline's detached "
            'checkout: --commit "$BUILD_SOURCEVERSION".',
        ),
    ] = None,
    model: Annotated[
        str | None,
        typer.Option("--model", help="Apply only this model's manifest (with --environment)."),
    ] = None,
    environment: Annotated[
        str | None,
        typer.Option("--environment", help="The environment of --model's manifest."),
    ] = None,
    version: Annotated[
        str | None,
        typer.Option("--version", help="With --model: fail unless its manifest pins this version."),
    ] = None,
    verify: Annotated[
        bool,
        typer.Option(
            "--verify",
            help="Then watch each new version for its policy's window, and propose for the "
            "next stage every version whose soak there is over (needs the forge's settings).",
        ),
    ] = False,
) -> None:
    """Make every target serve the manifests of BRANCH changed since the last applied commit.

    Fetch or pull the checkout first; apply reads it as it is. The last applied
    commit is kept in .git/promobot/last-applied and moves only when every change
    succeeded. A pipeline run started for one model (`--model`, `--environment`,
    `--version`) applies that manifest only. Exit 1 when a manifest failed (what served
    keeps serving).
    """
    with user_errors():
        only = _only_manifest(model, environment, version)
        settings = load_settings()
        targets, registries = TargetPool(settings), RegistryPool(settings)
        forge = optional_forge(settings)
        ref = commit or branch
        try:
            with GitRepo(repo) as git_repo:
                _check_ref(git_repo, ref, commit is not None)
                if only is not None:
                    _check_pinned(git_repo, ref, only, version)
                report = apply_changes(
                    git_repo,
                    targets,
                    branch=ref,
                    since=since,
                    registries=registries,
                    forge=forge,
                    progress=_say,
                    only=only,
                )
                _print_apply(report)
                if verify and report.ok:
                    _verify(report, git_repo, targets, forge)
                    if forge is not None:
                        _advance_stages(settings, forge, targets)
        finally:
            targets.close()
            registries.close()
            if forge is not None:
                close_adapter(forge)
    if not report.ok:
        typer.echo(f"error: {len(report.failures)} manifest(s) failed:", err=True)
        for failed in report.failures:
            typer.echo(f"  {failed.path}: {failed.detail}", err=True)
        raise typer.Exit(1)


def _only_manifest(model: str | None, environment: str | None, version: str | None) -> str | None:
    if model is None and environment is None:
        if version is not None:
            raise UserInputError("--version needs --model and --environment")
        return None
    if model is None or environment is None:
        raise UserInputError(
            "--model and --environment go together",
            hint="name both to apply one manifest, or neither to apply every changed one",
        )
    return manifest_path(model, environment)


def _check_ref(repo: GitRepo, ref: str, is_commit: bool) -> None:
    if repo.has_commit(ref):
        return
    what = "--commit" if is_commit else "--branch"
    raise UserInputError(
        f"{what} {ref!r} names no commit in {repo.path}",
        hint="a pipeline's checkout is a detached HEAD with no local branches: pass "
        '--commit "$BUILD_SOURCEVERSION" (Azure Pipelines) or --branch origin/main, or fetch '
        "the branch first",
    )


def _check_pinned(repo: GitRepo, ref: str, path: str, version: str | None) -> None:
    """The manifest exists at `ref` and, when `version` is given, pins it."""
    commit = repo.resolve(ref)
    text = repo.read_text(commit, path)
    if text is None:
        raise UserInputError(
            f"{path} does not exist at {commit[:7]}",
            hint="the run was started for a model and environment this commit has no manifest of",
        )
    try:
        manifest = load_manifest_text(text, path)
    except InvalidFile as exc:
        problems = "; ".join(str(p) for p in exc.problems)
        raise UserInputError(f"{path} at {commit[:7]} is invalid: {problems}") from exc
    if version is not None and manifest.version != version:
        raise UserInputError(
            f"{path} at {commit[:7]} pins version {manifest.version}, not {version}",
            hint="the request is stale: the manifest changed after the run was started, and "
            "the newer change is applied by its own run",
        )


def _print_apply(report: ApplyReport) -> None:
    for result in report.results:
        version = result.version or "-"
        typer.echo(f"{result.status.value:<9} {result.path} {version}: {result.detail}")
    applied = sum(r.status is ApplyStatus.APPLIED for r in report.results)
    typer.echo(
        f"{report.branch} at {report.head[:7]}: {applied} deployed, {len(report.results)} changed"
    )


def _verify(report: ApplyReport, repo: GitRepo, targets: TargetPool, forge: Forge | None) -> None:
    def note_rejected(model: str, environment: str, version: str, reason: str) -> None:
        _say(f"{model} {version} ({environment}) is rejected: {reason}")

    outcomes = verify_applied(
        report, repo, targets, forge=forge, record_rejected=note_rejected, progress=_say
    )
    failed = [o for o in outcomes if not o.ok]
    for outcome in failed:
        typer.echo(f"error: verification of {outcome.model} {outcome.version}: {outcome.detail}")
    if failed:
        raise typer.Exit(1)


def _advance_stages(settings: Settings, forge: Forge, targets: TargetPool) -> None:
    """Versions whose soak in a stage is over and whose health there passed go on to the
    next stage, through a pull request like any proposal."""
    services = build_services(settings, forge)
    for result in advance_stages(services, None, health_from(targets), utcnow()):
        _say(f"next stage: {result.detail}")


def diff(
    repo: RepoOption = Path("."),
    branch: BranchOption = "main",
    output: FormatOption = Format.TABLE,
) -> None:
    """Compare what serves with the manifests of BRANCH. Exit 1 on drift, 2 if unreadable."""
    with user_errors():
        targets = TargetPool(load_settings())
        try:
            with GitRepo(repo) as git_repo:
                report = diff_manifests(git_repo, targets, branch=branch)
        finally:
            targets.close()
    typer.echo(_diff_text(report, output))
    raise typer.Exit(report.exit_code)


def _diff_text(report: DriftReport, output: Format) -> str:
    if output is Format.JSON:
        return report.model_dump_json(indent=2)
    rows = [
        [
            row.model or "?",
            row.environment or "?",
            row.endpoint or "?",
            row.desired or "?",
            ", ".join(f"{v} {s}%" for v, s in row.serving.items()) or "-",
            row.status.value,
        ]
        for row in report.rows
    ]
    table = render_table(["MODEL", "ENVIRONMENT", "ENDPOINT", "WANTED", "SERVING", "STATUS"], rows)
    notes = [
        f"{row.path}: {row.detail}" for row in report.rows if row.status is not DriftStatus.IN_SYNC
    ]
    return "\n".join([table, *notes]) if notes else table


def history(
    model: Annotated[str, typer.Argument(help="Model name, as in the manifests.")],
    environment: Annotated[
        str | None, typer.Option("--environment", help="Only this environment.")
    ] = None,
    repo: RepoOption = Path("."),
    branch: BranchOption = "main",
    output: FormatOption = Format.TABLE,
) -> None:
    """Promotions and rollbacks of MODEL, from the git log of its manifests, newest first."""
    with user_errors(), GitRepo(repo) as git_repo:
        entries = read_history(git_repo, model, environment=environment, branch=branch)
    if output is Format.JSON:
        document = {
            "model": model,
            "environment": environment,
            "entries": [entry.model_dump(mode="json") for entry in entries],
        }
        typer.echo(json.dumps(document, indent=2))
        return
    if not entries:
        _say(f"no manifest of {model!r} changed on {branch}")
    typer.echo(_history_table(entries))


def status(
    model: Annotated[str, typer.Argument(help="Model name, as in the manifests.")],
    repo: RepoOption = Path("."),
    branch: BranchOption = "main",
    output: FormatOption = Format.TABLE,
) -> None:
    """Each stage of MODEL's path: what serves, since when, what it waits for."""
    with user_errors(), GitRepo(repo) as git_repo:
        views = model_status(git_repo, model, utcnow(), branch=branch)
    if output is Format.JSON:
        document = {"model": model, "stages": [view.model_dump(mode="json") for view in views]}
        typer.echo(json.dumps(document, indent=2))
        return
    rows = [
        [
            view.environment,
            f"v{view.version}" if view.version else "-",
            view.served_since.strftime("%Y-%m-%d %H:%M UTC") if view.served_since else "-",
            f"#{view.pull_request}" if view.pull_request else "-",
            view.waiting,
        ]
        for view in views
    ]
    typer.echo(render_table(["STAGE", "SERVES", "SINCE", "PR", "WAITS FOR"], rows))


def _history_table(entries: Sequence[HistoryEntry]) -> str:
    rows = [
        [
            entry.committed_at.strftime("%Y-%m-%d %H:%M %z"),
            entry.environment,
            entry.kind.value + (" (revert)" if entry.is_revert else ""),
            entry.state.value if entry.state else "-",
            f"{entry.from_version or '-'} → {entry.to_version or '-'}",
            _pull_requests(entry),
            entry.author
            + (f" (approved: {', '.join(entry.approved_by)})" if entry.approved_by else ""),
            key_metrics(entry.metrics) or "-",
            entry.commit[:7],
        ]
        for entry in entries
    ]
    headers = ["WHEN", "ENVIRONMENT", "KIND", "STATE", "VERSION", "PR", "WHO", "METRICS", "COMMIT"]
    return render_table(headers, rows)


def _pull_requests(entry: HistoryEntry) -> str:
    own = f"#{entry.pull_request}" if entry.pull_request else ""
    undone = f"reverts #{entry.reverts_pull_request}" if entry.reverts_pull_request else ""
    return " ".join(p for p in (own, undone) if p) or "-"


def render_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Left-aligned columns separated by two spaces, for terminals and logs alike."""
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(headers)]
    lines = [headers, *rows]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip()
        for line in lines
    )
