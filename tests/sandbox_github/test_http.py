"""Raw HTTP against the sandbox: GitHub's error format, the Contents API, pagination,
privacy, and the pull request page for people."""

from __future__ import annotations

import base64
import subprocess
from pathlib import Path

from promobot_sandbox.github import Checks

from tests.sandbox_github.helpers import MANIFEST, open_pull
from tests.support.github_sandbox import GitHubSandbox, start_github_sandbox
from tests.support.http import LOCAL


def test_errors_use_githubs_format(github_sandbox: GitHubSandbox) -> None:
    with github_sandbox.http("bob") as http:
        missing = http.get("/repos/acme/nope")
        unknown_route = http.get("/repos/acme/models/wiki")
        invalid = http.post(
            f"/repos/{github_sandbox.repo_name}/pulls", json={"head": "main", "base": "main"}
        )
        broken_json = http.post(f"/repos/{github_sandbox.repo_name}/pulls", content=b"{")
    assert missing.status_code == unknown_route.status_code == 404
    assert missing.json() == {
        "message": "Not Found",
        "documentation_url": "https://docs.github.com/rest",
    }
    assert invalid.status_code == 422
    assert invalid.json()["errors"] == [
        {"resource": "PullRequest", "field": "title", "code": "missing_field"}
    ]
    assert broken_json.status_code == 400


def test_contents_put_creates_then_updates_with_the_sha(github_sandbox: GitHubSandbox) -> None:
    """The naive path the benchmark compares against must work too."""
    path = f"/repos/{github_sandbox.repo_name}/contents/docs/new.md"
    encoded = base64.b64encode(b"hello\n").decode()
    with github_sandbox.http("bob") as http:
        created = http.put(path, json={"message": "add", "content": encoded})
        assert created.status_code == 201
        sha = created.json()["content"]["sha"]
        without_sha = http.put(path, json={"message": "edit", "content": encoded})
        stale = http.put(path, json={"message": "edit", "content": encoded, "sha": "0" * 40})
        updated = http.put(
            path,
            json={"message": "edit", "content": base64.b64encode(b"bye\n").decode(), "sha": sha},
        )
        listing = http.get(f"/repos/{github_sandbox.repo_name}/contents/docs").json()
    assert (without_sha.status_code, stale.status_code, updated.status_code) == (422, 409, 200)
    assert [(e["name"], e["type"]) for e in listing] == [("new.md", "file")]
    pushes = github_sandbox.receiver.wait_for(
        "push", predicate=lambda d: d.payload["head_commit"]["message"] == "edit"
    )
    assert pushes.payload["head_commit"]["modified"] == ["docs/new.md"]


def test_lists_are_paginated_with_link_headers(github_sandbox: GitHubSandbox) -> None:
    """PyGithub follows `rel="next"`: a 35-comment thread comes back whole."""
    pr = open_pull(github_sandbox.github("bob").get_repo(github_sandbox.repo_name))
    with github_sandbox.http("bob") as http:
        for index in range(35):
            http.post(
                f"/repos/{github_sandbox.repo_name}/issues/{pr.number}/comments",
                json={"body": f"c{index}"},
            )
        first = http.get(f"/repos/{github_sandbox.repo_name}/issues/{pr.number}/comments")
    assert len(first.json()) == 30
    assert 'rel="next"' in first.headers["link"]
    assert [c.body for c in pr.get_issue_comments()] == [f"c{i}" for i in range(35)]


def test_private_repositories_are_invisible_to_outsiders(tmp_path: Path) -> None:
    seed = {
        "users": [{"login": "owner", "token": "t-owner"}, {"login": "outsider", "token": "t-out"}],
        "repositories": [{"full_name": "owner/secret", "private": True}],
    }
    with start_github_sandbox(tmp_path, Checks(), seed=seed) as sandbox:
        with sandbox.http("outsider") as http:
            assert http.get("/repos/owner/secret").status_code == 404
        with sandbox.http("owner") as http:
            assert http.get("/repos/owner/secret").json()["private"] is True


def test_clone_url_is_a_real_clone_and_the_pull_page_renders(
    github_sandbox: GitHubSandbox, tmp_path: Path
) -> None:
    repo = github_sandbox.github("bob").get_repo(github_sandbox.repo_name)
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", repo.clone_url, str(clone)], check=True)
    assert (clone / MANIFEST).exists()
    pr = open_pull(repo)
    page = LOCAL.get(pr.html_url)
    assert page.status_code == 200
    assert "Promote churn-classifier v2" in page.text
