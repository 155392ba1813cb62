"""The policy verdict on a commit, and every status and check run read back.

With an App the verdict is a check run the App owns: nobody else can create or
update it, and branch protection can pin the required check to the App. With a token
it is a commit status, and only a status whose `creator` is the bot counts.
https://docs.github.com/en/rest/checks/runs#create-a-check-run
https://docs.github.com/en/rest/commits/statuses#list-commit-statuses-for-a-reference
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from bot.forge.base import (
    Annotation,
    BotIdentity,
    CheckConclusion,
    CheckRunInfo,
    ChecksSnapshot,
    CommitState,
    StatusInfo,
)
from bot.forge.session import RepoSession, clip

STATUS_DESCRIPTION_LIMIT = 140
CHECK_TEXT_LIMIT = 65_535
CHECK_TITLE_LIMIT = 255
# "The Checks API limits the number of annotations to a maximum of 50 per API request."
# https://docs.github.com/en/rest/checks/runs#update-a-check-run
ANNOTATIONS_PER_REQUEST = 50
CONCLUSIONS = {
    CommitState.SUCCESS: "success",
    CommitState.FAILURE: "failure",
    CommitState.ERROR: "failure",
}


def set_status(
    session: RepoSession,
    sha: str,
    state: CommitState,
    description: str,
    *,
    context: str,
    target_url: str | None = None,
) -> None:
    """A commit status; the description is clipped to GitHub's 140 characters."""
    body: dict[str, Any] = {
        "state": state.value,
        "description": clip(description, STATUS_DESCRIPTION_LIMIT),
        "context": context,
    }
    if target_url:
        body["target_url"] = target_url
    session.api("POST", f"/statuses/{sha}", body)


def set_check_verdict(
    session: RepoSession,
    sha: str,
    name: str,
    state: CommitState,
    *,
    output: dict[str, str],
    annotations: Sequence[Annotation],
    details_url: str | None,
) -> int:
    """A new check run of the App; annotations beyond the first 50 are added 50 at a time.

    A new run per verdict (rather than editing the last) keeps annotations from piling
    up: GitHub appends them on every update. The newest run of a name is the one shown.
    """
    batches = [
        annotations[start : start + ANNOTATIONS_PER_REQUEST]
        for start in range(0, len(annotations), ANNOTATIONS_PER_REQUEST)
    ] or [()]
    body: dict[str, Any] = {
        "name": name,
        "head_sha": sha,
        "output": {**output, "annotations": _annotations(batches[0])},
    }
    if state is CommitState.PENDING:
        body["status"] = "in_progress"
    else:
        body.update(status="completed", conclusion=CONCLUSIONS[state])
    if details_url:
        body["details_url"] = details_url
    run_id = int(session.api("POST", "/check-runs", body)["id"])
    for batch in batches[1:]:
        more = {"output": {**output, "annotations": _annotations(batch)}}
        session.api("PATCH", f"/check-runs/{run_id}", more)
    return run_id


def set_check_run(
    session: RepoSession,
    sha: str,
    name: str,
    *,
    conclusion: CheckConclusion | None,
    output: dict[str, str],
    details_url: str | None,
    check_run_id: int | None,
) -> int:
    """Create a check run (or update `check_run_id`); no conclusion means in progress."""
    body: dict[str, Any] = {"output": output}
    if conclusion is None:
        body["status"] = "in_progress"
    else:
        body.update(status="completed", conclusion=conclusion.value)
    if details_url:
        body["details_url"] = details_url
    if check_run_id is not None:
        session.api("PATCH", f"/check-runs/{check_run_id}", body)
        return check_run_id
    return int(session.api("POST", "/check-runs", {"name": name, "head_sha": sha, **body})["id"])


def check_output(title: str, summary: str, text: str) -> dict[str, str]:
    """`output` within GitHub's limits (title 255, summary and text 65,535 characters)."""
    output = {
        "title": clip(title, CHECK_TITLE_LIMIT),
        "summary": clip(summary, CHECK_TEXT_LIMIT),
    }
    if text:
        output["text"] = clip(text, CHECK_TEXT_LIMIT)
    return output


def _annotations(batch: Sequence[Annotation]) -> list[dict[str, Any]]:
    found = []
    for item in batch:
        entry: dict[str, Any] = {
            "path": item.path,
            "start_line": item.start_line,
            "end_line": item.end_line,
            "annotation_level": item.level.value,
            "message": item.message,
        }
        if item.title:
            entry["title"] = item.title
        found.append(entry)
    return found


def read_checks(session: RepoSession, sha: str, bot: BotIdentity) -> ChecksSnapshot:
    """Every page of the commit's statuses and check runs (`filter=all`: a newer run of the
    same name by another App must not hide the bot's own)."""
    statuses = list(session.pages(f"/commits/{sha}/statuses"))
    runs = list(session.pages(f"/commits/{sha}/check-runs", {"filter": "all"}, key="check_runs"))
    return snapshot(sha, statuses, runs, bot)


def snapshot(
    sha: str, statuses: Iterable[dict[str, Any]], runs: Iterable[dict[str, Any]], bot: BotIdentity
) -> ChecksSnapshot:
    """Latest status per context and creator, latest run per name and App."""
    latest_status: dict[tuple[str, str], StatusInfo] = {}
    for raw in statuses:
        status = StatusInfo(
            context=str(raw["context"]),
            state=CommitState(raw["state"]),
            description=raw.get("description"),
            target_url=raw.get("target_url"),
            id=int(raw["id"]),
            creator=(raw.get("creator") or {}).get("login"),
        )
        key = (status.context, (status.creator or "").lower())
        if key not in latest_status or latest_status[key].id < status.id:
            latest_status[key] = status
    latest_run: dict[tuple[str, int | None], CheckRunInfo] = {}
    for raw in runs:
        app = raw.get("app") or {}
        run = CheckRunInfo(
            id=int(raw["id"]),
            name=str(raw["name"]),
            status=str(raw["status"]),
            conclusion=raw.get("conclusion"),
            app_id=app.get("id"),
            app_slug=app.get("slug"),
        )
        key_run = (run.name, run.app_id)
        if key_run not in latest_run or latest_run[key_run].id < run.id:
            latest_run[key_run] = run
    return ChecksSnapshot(
        sha=sha,
        combined_state=combined_state(latest_status.values()),
        statuses=tuple(sorted(latest_status.values(), key=lambda s: s.id)),
        check_runs=tuple(sorted(latest_run.values(), key=lambda r: r.id)),
        bot=bot,
    )


def combined_state(statuses: Iterable[StatusInfo]) -> CommitState:
    """GitHub's combined state over the latest status of each context: failure if any
    failed or errored, pending if any is pending or there are none, else success.
    https://docs.github.com/en/rest/commits/statuses#get-the-combined-status-for-a-specific-reference
    """
    latest: dict[str, StatusInfo] = {}
    for status in statuses:
        if status.context not in latest or latest[status.context].id < status.id:
            latest[status.context] = status
    states = {status.state for status in latest.values()}
    if states & {CommitState.FAILURE, CommitState.ERROR}:
        return CommitState.FAILURE
    if not states or CommitState.PENDING in states:
        return CommitState.PENDING
    return CommitState.SUCCESS
