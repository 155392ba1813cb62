"""Unmodified PyGithub against the sandbox: every call the forge adapter builds on."""

from __future__ import annotations

import base64

import pytest
from github import GithubException, InputGitTreeElement

from tests.sandbox_github.helpers import MANIFEST, commit_on_branch, open_pull
from tests.support.github_sandbox import GitHubSandbox


def test_git_data_api_builds_a_real_commit(github_sandbox: GitHubSandbox) -> None:
    """One commit that changes the manifest, built blob → tree → commit → ref: the
    adapter's way of writing a promotion, and git must see exactly that commit."""
    repo = github_sandbox.github("bob").get_repo(github_sandbox.repo_name)
    main = repo.get_git_ref("heads/main")
    base = repo.get_git_commit(main.object.sha)
    blob = repo.create_git_blob(base64.b64encode(b"version: '2'\n").decode(), "base64")
    tree = repo.create_git_tree(
        [InputGitTreeElement(MANIFEST, "100644", "blob", sha=blob.sha)], base.tree
    )
    commit = repo.create_git_commit("Promote churn-classifier to v2", tree, [base])
    ref = repo.create_git_ref("refs/heads/promobot/production/churn", commit.sha)
    assert ref.object.sha == commit.sha
    assert [p.sha for p in repo.get_git_commit(commit.sha).parents] == [base.sha]
    content = repo.get_contents(MANIFEST, ref="promobot/production/churn")
    assert content.decoded_content == b"version: '2'\n"
    assert repo.get_contents("README.md", ref="promobot/production/churn").sha == (
        repo.get_contents("README.md").sha
    )
    listed = repo.get_git_matching_refs("heads/promobot/")
    assert [r.ref for r in listed] == ["refs/heads/promobot/production/churn"]
    full = repo.get_git_tree(commit.sha, recursive=True)
    assert MANIFEST in [e.path for e in full.tree]


def test_ref_update_is_fast_forward_unless_forced(github_sandbox: GitHubSandbox) -> None:
    """A human commit on the promotion branch must not be lost to a plain update."""
    repo = github_sandbox.github("bob").get_repo(github_sandbox.repo_name)
    first = commit_on_branch(repo, "feature", {"a.txt": "1\n"})
    second = commit_on_branch(repo, "feature", {"a.txt": "2\n"})
    ref = repo.get_git_ref("heads/feature")
    with pytest.raises(GithubException) as refused:
        ref.edit(first)
    assert refused.value.status == 422
    ref.edit(first, force=True)
    assert repo.get_git_ref("heads/feature").object.sha == first != second
    ref.delete()
    with pytest.raises(GithubException) as gone:
        repo.get_git_ref("heads/feature")
    assert gone.value.status == 404


def test_pull_request_round_trip(github_sandbox: GitHubSandbox) -> None:
    """Open, find by head branch, edit the body in place, label, request reviewers."""
    repo = github_sandbox.github("bob").get_repo(github_sandbox.repo_name)
    pr = open_pull(repo)
    assert (pr.state, pr.mergeable, pr.commits, pr.changed_files) == ("open", True, 1, 1)
    found = list(repo.get_pulls(state="open", head="acme:promobot/production/churn", base="main"))
    assert [p.number for p in found] == [pr.number]
    assert list(repo.get_pulls(state="closed")) == []
    pr.edit(body="<!-- promobot:report -->new<!-- /promobot:report -->")
    assert repo.get_pull(pr.number).body.endswith("new<!-- /promobot:report -->")
    pr.add_to_labels("promotion", "model:churn")
    pr.remove_from_labels("model:churn")
    assert [label.name for label in repo.get_pull(pr.number).labels] == ["promotion"]
    pr.create_review_request(reviewers=["carol"], team_reviewers=["ml-reviewers"])
    users, teams = pr.get_review_requests()
    assert [u.login for u in users] == ["carol"]
    assert [t.slug for t in teams] == ["ml-reviewers"]
    files = list(pr.get_files())
    assert [(f.filename, f.status) for f in files] == [(MANIFEST, "modified")]
    assert "+version: '2'" in files[0].patch
    with pytest.raises(GithubException) as duplicate:
        repo.create_pull(title="again", body="", head="promobot/production/churn", base="main")
    assert duplicate.value.status == 422
    assert "already exists" in str(duplicate.value.data)


def test_comments_are_listed_and_updated_in_place(github_sandbox: GitHubSandbox) -> None:
    """The bot keeps one status comment and edits it, found again by its marker."""
    repo = github_sandbox.github("bob").get_repo(github_sandbox.repo_name)
    pr = open_pull(repo)
    comment = pr.create_issue_comment("<!-- promobot:status --> blocked")
    pr.create_issue_comment("a human comment")
    comment.edit("<!-- promobot:status --> ready")
    bodies = [c.body for c in pr.get_issue_comments()]
    assert bodies == ["<!-- promobot:status --> ready", "a human comment"]
    assert pr.get_issue_comment(comment.id).body.endswith("ready")
    assert repo.get_issue(pr.number).pull_request is not None


def test_reviews_count_for_the_head_commit(github_sandbox: GitHubSandbox) -> None:
    """Approvals record the commit they approve; the author cannot approve their own."""
    bob_repo = github_sandbox.github("bob").get_repo(github_sandbox.repo_name)
    pr = open_pull(bob_repo)
    with pytest.raises(GithubException) as own:
        pr.create_review(event="APPROVE")
    assert own.value.status == 422
    carol_pr = github_sandbox.github("carol").get_repo(github_sandbox.repo_name).get_pull(pr.number)
    carol_pr.create_review(event="APPROVE", body="lgtm")
    reviews = list(pr.get_reviews())
    assert [(r.user.login, r.state, r.commit_id) for r in reviews] == [
        ("carol", "APPROVED", pr.head.sha)
    ]


def test_statuses_and_combined_status(github_sandbox: GitHubSandbox) -> None:
    """The policy verdict as a commit status; the latest per context decides."""
    repo = github_sandbox.github("bob").get_repo(github_sandbox.repo_name)
    sha = open_pull(repo).head.sha
    commit = repo.get_commit(sha)
    commit.create_status("pending", context="promobot/policy", description="evaluating")
    assert commit.get_combined_status().state == "pending"
    commit.create_status("success", context="promobot/policy", description="promote")
    commit.create_status("failure", context="ci/tests")
    combined = commit.get_combined_status()
    assert combined.state == "failure"
    assert sorted((s.context, s.state) for s in combined.statuses) == [
        ("ci/tests", "failure"),
        ("promobot/policy", "success"),
    ]
    assert len(list(commit.get_statuses())) == 3


def test_permissions_and_membership(github_sandbox: GitHubSandbox) -> None:
    """Who may command the bot: collaborator permission and team membership."""
    gh = github_sandbox.github("alice")
    repo = gh.get_repo(github_sandbox.repo_name)
    assert repo.get_collaborator_permission("bob") == "write"
    assert repo.get_collaborator_permission("dave") == "read"
    assert repo.get_collaborator_permission("alice") == "admin"
    assert repo.get_collaborator_permission("erin") == "read"
    team = gh.get_organization("acme").get_team_by_slug("ml-reviewers")
    assert team.get_team_membership("carol").role == "member"
    assert team.get_team_membership("alice").role == "maintainer"
    with pytest.raises(GithubException) as outsider:
        team.get_team_membership("erin")
    assert outsider.value.status == 404
    assert team.has_in_members(gh.get_user("carol"))
    assert not team.has_in_members(gh.get_user("erin"))


def test_commits_branches_and_deployments(github_sandbox: GitHubSandbox) -> None:
    """History (for `promobot history`) and deployments with their statuses (for CD)."""
    repo = github_sandbox.github("bob").get_repo(github_sandbox.repo_name)
    pr = open_pull(repo)
    pr.merge(merge_method="squash")
    history = list(repo.get_commits(path=MANIFEST))
    assert history[0].commit.message.startswith("Promote churn-classifier v2 (#1)")
    assert history[0].author.login == "bob"
    branch = repo.get_branch("main")
    assert branch.commit.sha == history[0].sha
    deployment = repo.create_deployment(
        ref=branch.commit.sha,
        environment="production",
        payload={"version": "2"},
        required_contexts=[],
    )
    deployment.create_status("in_progress")
    deployment.create_status("success", environment_url="http://127.0.0.1:1/v1/models/churn")
    assert [d.id for d in repo.get_deployments(environment="production")] == [deployment.id]
    assert [s.state for s in deployment.get_statuses()] == ["success", "in_progress"]
    assert repo.get_deployment(deployment.id).payload == {"version": "2"}
    latest = next(iter(deployment.get_statuses()))
    assert deployment.get_status(latest.id).state == "success"
    assert [p.number for p in repo.get_commit(branch.commit.sha).get_pulls()] == [pr.number]


def test_compare_shows_commits_a_branch_adds(github_sandbox: GitHubSandbox) -> None:
    """How the adapter notices a human commit on its promotion branch."""
    repo = github_sandbox.github("bob").get_repo(github_sandbox.repo_name)
    open_pull(repo)
    human = commit_on_branch(repo, "promobot/production/churn", {"notes.md": "human\n"})
    comparison = repo.compare("main", "promobot/production/churn")
    assert (comparison.status, comparison.ahead_by, comparison.behind_by) == ("ahead", 2, 0)
    assert comparison.commits[-1].sha == human
    assert sorted(f.filename for f in comparison.files) == [MANIFEST, "notes.md"]
