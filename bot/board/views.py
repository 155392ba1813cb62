"""What the board shows, as typed data: the pages render it, `/api/*.json` returns it.

Nothing secret goes in here: no token, no webhook secret, no path outside the data root.
"""

from __future__ import annotations

import datetime as dt
import enum

from pydantic import BaseModel, ConfigDict, Field

from bot.domain.comparison import MetricComparison, Task
from bot.domain.curves import Curves
from bot.domain.stages import StageView
from bot.workflows.history import HistoryKind


class _View(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class CellStatus(enum.StrEnum):
    """How what serves compares with what `main` says."""

    IN_SYNC = "in-sync"
    DRIFT = "drift"
    UNKNOWN = "unknown"
    NOT_DEPLOYED = "not-deployed"


class Health(_View):
    """The last verification figures of one serving version, as its target counts them."""

    version: str = Field(description="Version measured.")
    requests: int = Field(description="Requests served since it was deployed.")
    errors: int = Field(description="Requests that failed.")
    error_rate: float = Field(description="errors / requests (0 without requests).")
    p99_latency_ms: float | None = Field(description="99th percentile latency, when measured.")


class Proposal(_View):
    """The open promotion pull request of one model in one environment."""

    number: int = Field(description="Pull request number.")
    url: str = Field(description="Its web page.")
    title: str = Field(description="Its title.")
    version: str | None = Field(description="The version it proposes; None when unreadable.")
    verdict: str | None = Field(
        description="`promote` or `reject`, from the decision record on its head; None when "
        "the record is missing or the mirror has not fetched the head yet."
    )
    draft: bool = Field(description="A draft (the policy opens refused versions as drafts).")
    head_sha: str = Field(description="Its head commit.")


class Cell(_View):
    """One model in one environment."""

    environment: str = Field(description="The environment.")
    wanted: str | None = Field(description="The version `main`'s manifest names; None: none.")
    serving: dict[str, int] = Field(description="Version -> share of traffic, as the target says.")
    status: CellStatus = Field(description="in-sync, drift, unknown or not-deployed.")
    detail: str = Field(description="Why, in one line.")
    endpoint: str | None = Field(description="The endpoint the manifest deploys to.")
    target: str | None = Field(description="The kind of target (local, azureml, azure-devops).")
    since: dt.datetime | None = Field(description="When `main` started to name this version.")
    since_pull_request: int | None = Field(description="The pull request that did it.")
    since_commit: str | None = Field(description="The commit that did it.")
    health: tuple[Health, ...] = Field(description="Figures of each version taking traffic.")
    proposal: Proposal | None = Field(description="The open promotion pull request, if any.")


class ModelRow(_View):
    """One model across the board's environments."""

    model: str = Field(description="Model name.")
    cells: tuple[Cell, ...] = Field(description="One per environment of the board, in order.")

    def cell(self, environment: str) -> Cell | None:
        """The cell of `environment`."""
        return next((c for c in self.cells if c.environment == environment), None)


class Board(_View):
    """Every model in every environment."""

    repository: str = Field(description="`owner/name` of the GitOps repository.")
    web_url: str | None = Field(description="Its web page.")
    branch: str = Field(description="The default branch read.")
    head: str | None = Field(description="The commit of the branch that was read.")
    read_at: dt.datetime = Field(description="When git, the forge and the targets were read.")
    environments: tuple[str, ...] = Field(description="Columns: policy stages in path order.")
    rows: tuple[ModelRow, ...] = Field(description="One per model, by name.")
    problems: tuple[str, ...] = Field(description="What could not be read, and why.")

    def row(self, model: str) -> ModelRow | None:
        """The row of `model`."""
        return next((r for r in self.rows if r.model == model), None)


class RuleLine(_View):
    """One readiness rule of an open promotion."""

    name: str = Field(description="Rule name.")
    passed: bool = Field(description="Whether it passes now.")
    detail: str = Field(description="What it saw, and what it waits for.")


class OpenPromotion(_View):
    """An open promotion pull request and whether it may merge."""

    environment: str = Field(description="The environment it promotes to.")
    proposal: Proposal = Field(description="The pull request.")
    state: str | None = Field(description="Where the promotion stands (the readiness state).")
    state_description: str | None = Field(description="What that state means.")
    ready: bool = Field(description="Every rule passed.")
    rules: tuple[RuleLine, ...] = Field(description="Each readiness rule.")
    next_evaluation_at: dt.datetime | None = Field(description="When a time rule changes.")
    record_url: str | None = Field(description="The decision record on its head.")
    problem: str | None = Field(description="Why readiness could not be read, when it could not.")


class HistoryItem(_View):
    """One thing that happened to the model, from git."""

    when: dt.datetime = Field(description="Commit time, or the decision time of a refusal.")
    environment: str = Field(description="The environment.")
    kind: HistoryKind = Field(description="What happened.")
    from_version: str | None = Field(description="Version before.")
    to_version: str | None = Field(description="Version after (the refused one for `rejected`).")
    pull_request: int | None = Field(description="Its pull request.")
    pull_request_url: str | None = Field(description="Its pull request's page.")
    commit: str = Field(description="Its commit.")
    commit_url: str | None = Field(description="The commit's page.")
    author: str | None = Field(description="Who made the commit.")
    approved_by: tuple[str, ...] = Field(description="Approvals that counted (trailers).")
    reason: str | None = Field(
        description="Why: a rollback's commit message, a refusal's failed rules."
    )
    reverts_pull_request: int | None = Field(
        default=None, description="The promotion a rollback undoes."
    )
    rolled_back: bool = Field(description="A promotion a later commit reverted.")


class Evaluation(_View):
    """The newest evaluation of the model: the evidence of its last decision."""

    environment: str = Field(description="Environment it was decided for.")
    version: str = Field(description="The challenger.")
    champion_version: str | None = Field(description="The champion; None at first.")
    decided_at: dt.datetime = Field(description="When.")
    verdict: str = Field(description="`promote` or `reject`.")
    task: Task = Field(description="binary, multiclass or regression.")
    rows: int = Field(description="Rows both models scored (0: logged metrics only).")
    metrics: tuple[MetricComparison, ...] = Field(description="Every metric compared.")
    notes: tuple[str, ...] = Field(description="What the reader should know.")
    data: str | None = Field(description="The evaluation data, as a path in the data root.")
    curves: Curves | None = Field(description="Both models' curves, when the record has them.")
    commit: str = Field(description="The commit that holds the record.")
    record_url: str | None = Field(description="The record's page.")
    pull_request: int | None = Field(description="The pull request of the decision, if known.")


class ModelPage(_View):
    """Everything the board knows about one model."""

    model: str = Field(description="Model name.")
    repository: str = Field(description="`owner/name` of the GitOps repository.")
    web_url: str | None = Field(description="Its web page.")
    read_at: dt.datetime = Field(description="When the board's data was read.")
    environments: tuple[str, ...] = Field(description="The board's environments, in order.")
    row: ModelRow = Field(description="The model across the environments.")
    stages: tuple[StageView, ...] = Field(description="Its promotion path, stage by stage.")
    promotions: tuple[OpenPromotion, ...] = Field(description="Its open promotions.")
    history: tuple[HistoryItem, ...] = Field(description="Newest first.")
    evaluation: Evaluation | None = Field(description="Its newest evaluation.")
    problems: tuple[str, ...] = Field(description="What could not be read, and why.")
