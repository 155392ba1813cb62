"""Creating comments and deployments once when GitHub's answer is lost, and reading every
page of every list."""

from __future__ import annotations

from collections.abc import Callable

from github import InputGitTreeElement

from bot.forge.github import GitHubForge
from bot.forge.settings import GitHubSettings
from tests.forge.support import app_settings, counted, promote, wait_until
from tests.support.github_sandbox import GitHubSandbox

COMMENTS = r"/issues/\d+/comments$"
DEPLOYMENTS = r"/deployments$"


def slow_forge(
    sandbox: GitHubSandbox, make_forge: Callable[[GitHubSettings], GitHubForge]
) -> GitHubForge:
    """An App adapter that gives up on an answer after one second."""
    return make_forge(app_settings(sandbox, timeout_seconds=1))


def late_answer(sandbox: GitHubSandbox, path: str) -> None:
    """GitHub carries the next POST out but answers after the client gave up."""
    sandbox.add_fault(path, None, method="POST", count=1, latency_ms=1500, answer_late=True)


def test_a_comment_whose_answer_was_lost_is_not_posted_twice(
    github_sandbox: GitHubSandbox, make_forge: Callable[[GitHubSettings], GitHubForge]
) -> None:
    """A timeout after the comment was created: the bot finds it instead of repeating it."""
    forge = slow_forge(github_sandbox, make_forge)
    number = promote(forge, 2).pull_request.number
    late_answer(github_sandbox, COMMENTS)
    created = forge.create_comment(number, "promobot could not merge: a check failed")
    comments = forge.list_comments(number)
    assert [c.id for c in comments] == [created.id]
    wait_until(lambda: bool(counted(github_sandbox, "POST", "/comments")))
    assert counted(github_sandbox, "POST", "/comments") == [201]


def test_a_comment_refused_with_a_5xx_is_posted_again(
    forge: GitHubForge, github_sandbox: GitHubSandbox
) -> None:
    """A 502 that created nothing: the bot looks, finds nothing, and creates it once."""
    number = promote(forge, 2).pull_request.number
    github_sandbox.add_fault(COMMENTS, 502, method="POST", count=1)
    forge.create_comment(number, "hello")
    assert [c.body for c in forge.list_comments(number)] == ["hello"]
    assert counted(github_sandbox, "POST", "/comments") == [502, 201]


def test_a_deployment_whose_answer_was_lost_is_not_recorded_twice(
    github_sandbox: GitHubSandbox, make_forge: Callable[[GitHubSettings], GitHubForge]
) -> None:
    """CD records one deployment per apply even when GitHub's answer never arrives."""
    forge = slow_forge(github_sandbox, make_forge)
    head = forge.default_branch()
    late_answer(github_sandbox, DEPLOYMENTS)
    deployment = forge.create_deployment(
        head.sha, "production/churn-classifier", payload={"version": "2"}, description="v2"
    )
    http = github_sandbox.http("alice")
    listed = http.get(f"/repos/{github_sandbox.repo_name}/deployments").json()
    assert [d["id"] for d in listed] == [deployment.id]


def test_every_page_of_comments_and_reviews_is_read(
    github_sandbox: GitHubSandbox, make_forge: Callable[[GitHubSettings], GitHubForge]
) -> None:
    """Pages of two: all five comments and all three reviews come back, in order."""
    forge = make_forge(app_settings(github_sandbox, per_page=2))
    number = promote(forge, 2).pull_request.number
    for index in range(5):
        forge.create_comment(number, f"comment {index}")
    for login in ("alice", "bob", "carol"):
        repo = github_sandbox.github(login).get_repo(github_sandbox.repo_name)
        repo.get_pull(number).create_review(event="COMMENT", body=f"by {login}")
    assert [c.body for c in forge.list_comments(number)] == [f"comment {i}" for i in range(5)]
    assert [r.user for r in forge.list_reviews(number)] == ["alice", "bob", "carol"]
    assert forge.upsert_comment(number, "<!-- m -->", "marked").body.endswith("marked")
    assert len(forge.list_comments(number)) == 6


def test_the_marked_comment_survives_a_lost_answer(
    github_sandbox: GitHubSandbox, make_forge: Callable[[GitHubSettings], GitHubForge]
) -> None:
    """The status comment is found by its marker after a timeout, not posted again."""
    forge = slow_forge(github_sandbox, make_forge)
    number = promote(forge, 2).pull_request.number
    late_answer(github_sandbox, COMMENTS)
    forge.upsert_comment(number, "<!-- promobot:status -->", "waiting for approval")
    wait_until(lambda: bool(counted(github_sandbox, "POST", "/comments")))
    forge.upsert_comment(number, "<!-- promobot:status -->", "ready to merge")
    assert counted(github_sandbox, "POST", "/comments") == [201]
    comments = forge.list_comments(number)
    assert [c.body for c in comments] == ["<!-- promobot:status -->\nready to merge"]


def test_every_page_of_a_pull_requests_files_is_read(
    github_sandbox: GitHubSandbox, make_forge: Callable[[GitHubSettings], GitHubForge]
) -> None:
    """A pull request touching a policy on page two is still seen touching it."""
    repo = github_sandbox.github("bob").get_repo(github_sandbox.repo_name)
    main = repo.get_git_commit(repo.get_branch("main").commit.sha)
    paths = ["a.md", "b.md", "model-manifests/x.yaml", "policies/team.yaml", "z.md"]
    elements = [InputGitTreeElement(p, "100644", "blob", content=f"{p}\n") for p in paths]
    tree = repo.create_git_tree(elements, main.tree)
    commit = repo.create_git_commit("several files", tree, [main])
    repo.create_git_ref("refs/heads/several", commit.sha)
    number = repo.create_pull(title="several", body="", head="several", base="main").number
    forge = make_forge(app_settings(github_sandbox, per_page=2))
    assert forge.get_pull_request(number).files == tuple(paths)
