"""Small builders for the sandbox tests: branches with commits, pull requests."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from github import InputGitTreeElement, UnknownObjectException

from tests.support.contract import RestContract, WebhookContract
from tests.support.github_sandbox import (
    DEFAULT_CONTENT,
    REPO_NAME,
    GitHubSandbox,
    WebhookReceiver,
    app_key_pem,
    default_seed,
    make_checks,
    start_github_sandbox,
    write_content,
)

MANIFEST = "model-manifests/production/churn-classifier.yaml"


def commit_on_branch(
    repo: Any, branch: str, files: dict[str, str], *, parent_ref: str = "main"
) -> str:
    """One commit changing `files` on top of `parent_ref`, published as `branch` (created
    or fast-forwarded) through the Git Data API. Returns the commit SHA."""
    try:
        ref = repo.get_git_ref(f"heads/{branch}")
        parent_sha = ref.object.sha
    except UnknownObjectException:
        ref = None
        parent_sha = repo.get_git_ref(f"heads/{parent_ref}").object.sha
    parent = repo.get_git_commit(parent_sha)
    elements = [
        InputGitTreeElement(path, "100644", "blob", sha=repo.create_git_blob(text, "utf-8").sha)
        for path, text in files.items()
    ]
    tree = repo.create_git_tree(elements, parent.tree)
    commit = repo.create_git_commit(f"change {', '.join(files)}", tree, [parent])
    if ref is None:
        repo.create_git_ref(f"refs/heads/{branch}", commit.sha)
    else:
        ref.edit(commit.sha)
    return str(commit.sha)


def open_pull(repo: Any, branch: str = "promobot/production/churn", **files: str) -> Any:
    """A pull request changing `files` (the manifest by default), once GitHub has computed
    its mergeability."""
    commit_on_branch(repo, branch, files or {MANIFEST: "version: '2'\n"})
    pr = repo.create_pull(
        title="Promote churn-classifier v2", body="report", head=branch, base="main"
    )
    return wait_mergeable(repo, pr.number)


def wait_mergeable(repo: Any, number: int, timeout: float = 10.0) -> Any:
    """The pull request once `mergeable` is no longer null (GitHub computes it in the
    background after every read that finds its head or base moved)."""
    deadline = time.monotonic() + timeout
    while True:
        pr = repo.get_pull(number)
        if pr.mergeable is not None:
            return pr
        assert time.monotonic() < deadline, f"pull request #{number} stayed mergeable: null"
        time.sleep(0.05)


@contextmanager
def strict_sandbox(
    tmp_path: Path,
    rest_contract: RestContract,
    webhook_contract: WebhookContract,
    change: Callable[[dict[str, Any]], None],
) -> Iterator[GitHubSandbox]:
    """A sandbox on the default seed as `change` edits it; its receiver hears the hooks
    the seed points at the receiver's URL."""
    receiver = WebhookReceiver()
    content = write_content(tmp_path / "strict-content", DEFAULT_CONTENT)
    key_file = tmp_path / "strict-key.pem"
    key_file.write_text(app_key_pem())
    seed = default_seed(receiver.url, content, key_file)
    change(seed)
    checks = make_checks(rest_contract, webhook_contract)
    try:
        with start_github_sandbox(tmp_path, checks, seed=seed) as sandbox:
            sandbox.receiver = receiver
            yield sandbox
    finally:
        receiver.close()


def repository(seed: dict[str, Any], full_name: str = REPO_NAME) -> dict[str, Any]:
    """The seed's entry for a repository, to edit in place."""
    found: dict[str, Any] = next(r for r in seed["repositories"] if r["full_name"] == full_name)
    return found


def app(seed: dict[str, Any]) -> dict[str, Any]:
    """The seed's App entry, to edit in place."""
    found: dict[str, Any] = seed["apps"][0]
    return found
