"""Small builders for the sandbox tests: branches with commits, pull requests."""

from __future__ import annotations

from typing import Any

from github import InputGitTreeElement, UnknownObjectException

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
    commit_on_branch(repo, branch, files or {MANIFEST: "version: '2'\n"})
    return repo.create_pull(
        title="Promote churn-classifier v2", body="report", head=branch, base="main"
    )
