"""A person's `git push` to the bare repository produces GitHub's push webhook."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.sandbox_github.helpers import MANIFEST, open_pull
from tests.support.contract import WebhookContract
from tests.support.github_sandbox import GitHubSandbox


def run(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout.strip()


def test_revert_pushed_from_a_plain_clone_sends_push_webhook(
    github_sandbox: GitHubSandbox, webhook_contract: WebhookContract, tmp_path: Path
) -> None:
    """Rollback is `git revert` of the promotion's merge commit, pushed by a person."""
    repo = github_sandbox.github("bob").get_repo(github_sandbox.repo_name)
    merged = open_pull(repo).merge(merge_method="squash")
    github_sandbox.receiver.wait_for("pull_request", "closed")
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(github_sandbox.bare_path()), str(clone)], check=True)
    run(clone, "config", "user.email", "alice@example.com")
    run(clone, "revert", "--no-edit", merged.sha)
    revert_sha = run(clone, "rev-parse", "HEAD")
    run(clone, "push", "-q", "origin", "HEAD:main")
    delivery = github_sandbox.receiver.wait_for(
        "push", predicate=lambda d: d.payload["after"] == revert_sha
    )
    payload = delivery.payload
    assert webhook_contract.check("push", payload) == []
    assert delivery.signature_ok()
    assert (payload["ref"], payload["before"], payload["forced"]) == (
        "refs/heads/main",
        merged.sha,
        False,
    )
    assert [c["id"] for c in payload["commits"]] == [revert_sha]
    assert payload["head_commit"]["modified"] == [MANIFEST]
    assert payload["pusher"]["name"] == "alice"
    assert repo.get_branch("main").commit.sha == revert_sha
    assert repo.get_contents(MANIFEST).decoded_content.startswith(b"apiVersion")


def test_push_to_a_pull_request_branch_synchronizes_it(
    github_sandbox: GitHubSandbox, tmp_path: Path
) -> None:
    """A human commit on the promotion branch: `synchronize`, and the head SHA moves."""
    repo = github_sandbox.github("bob").get_repo(github_sandbox.repo_name)
    pr = open_pull(repo)
    clone = tmp_path / "clone"
    subprocess.run(
        [
            "git",
            "clone",
            "-q",
            "-b",
            "promobot/production/churn",
            str(github_sandbox.bare_path()),
            str(clone),
        ],
        check=True,
    )
    (clone / "notes.md").write_text("a human was here\n")
    run(clone, "add", "notes.md")
    run(clone, "commit", "-q", "-m", "human commit")
    run(clone, "push", "-q", "origin", "HEAD")
    head = run(clone, "rev-parse", "HEAD")
    sync = github_sandbox.receiver.wait_for("pull_request", "synchronize").payload
    assert (sync["before"], sync["after"]) == (pr.head.sha, head)
    assert repo.get_pull(pr.number).head.sha == head
