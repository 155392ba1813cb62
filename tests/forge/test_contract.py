"""One contract for both forges: every `Forge` method, driven the same way against
`GitHubForge` on the sandbox GitHub (HTTP) and against `MemoryForge`, must show the same
behaviour. What only HTTP has (retries, ETags, rate limits, pages, 403 hints, the requests
made) is tested in the other files here, against the sandbox alone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from bot.errors import ForgeError
from bot.forge.base import (
    BotIdentity,
    CheckConclusion,
    CommitState,
    DeploymentState,
    Forge,
    ForgeDraftsRefusedError,
    ForgeHeadMovedError,
    ForgeHumanCommitError,
    ForgeMergeBlockedError,
    ForgeNothingToChangeError,
    ForgeNotMergeableError,
    ForgePermissionError,
    ForgeRevertConflictError,
    ForgeTeamNotFoundError,
    MergeBlock,
    MergeMethod,
    Permission,
    PromotionOutcome,
    PromotionPR,
    PullState,
)
from bot.forge.markers import BODY_BEGIN, BODY_END, CONTENT_TRAILER, HUMAN_COMMIT_MARKER, trailer
from bot.forge.permissions import missing_permissions
from tests.forge.support import APP_BOT, MANIFEST, manifest_text, promote
from tests.support.forge_sites import FORGE_KINDS, Site, SiteSetup, open_site
from tests.support.github_sandbox import APP_ID, APP_PERMISSIONS, ORG, REPO_NAME
from tests.support.memory_github import Protection

BRANCH = "promobot/production/churn-classifier"
POLICY = "promobot/policy"
STATUS = "<!-- promobot:status -->"
STAGING = "model-manifests/staging/churn-classifier.yaml"
STRICT = Protection(strict=True)

Start = Callable[..., Site]


@pytest.fixture(params=FORGE_KINDS)
def start(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Start]:
    """Opens sites of this test's forge kind (`SiteSetup` fields by keyword)."""
    kind = request.param

    def contracts() -> Any:
        return request.getfixturevalue("rest_contract"), request.getfixturevalue("webhook_contract")

    if kind == "sandbox":
        contracts()
    with ExitStack() as stack:
        count = 0

        def open_one(**setup: Any) -> Site:
            nonlocal count
            count += 1
            folder = tmp_path / f"site-{count}"
            return stack.enter_context(
                open_site(kind, folder, SiteSetup(**setup), contracts=contracts)
            )

        yield open_one


@pytest.fixture
def site(start: Start) -> Site:
    """The default seed: the repository, its people and the App."""
    return start()


def merged(forge: Forge, version: int, **overrides: Any) -> PromotionPR:
    result = promote(forge, version, **overrides)
    forge.merge(result.pull_request.number, expected_head_sha=result.commit_sha)
    return result


def move_main(site: Site, path: str = "notes.md", text: str = "n\n") -> str:
    """Someone lands a change on main: open promotions fall behind."""
    return site.people.commit_file("alice", "main", path, text, "unrelated change")


# --- who, where, files --------------------------------------------------------------------


def test_the_bot_its_repository_and_the_default_branch(site: Site) -> None:
    """Whose verdict counts, and where the champion is read from."""
    forge = site.forge
    assert forge.bot_login == APP_BOT
    assert forge.bot == BotIdentity(login=APP_BOT, app_id=APP_ID, verdict_name=POLICY)
    assert forge.repository == REPO_NAME
    assert site.token_forge("bob").bot == BotIdentity(login="bob", app_id=None, verdict_name=POLICY)
    head = forge.default_branch()
    assert head.name == "main"
    assert head.sha == site.people.head_of("main")


def test_files_at_the_default_branch_and_at_a_ref(site: Site) -> None:
    """Manifests and policies are read on main, and on a pull request's head."""
    forge = site.forge
    assert forge.read_file(MANIFEST) == manifest_text(1)
    assert forge.read_file("model-manifests/production/absent.yaml") is None
    assert forge.read_file("model-manifests") is None
    site.people.commit_file("alice", "main", STAGING, "model: x\n")
    assert forge.list_files("model-manifests") == [MANIFEST, STAGING]
    assert forge.list_files("model-manifests/production") == [MANIFEST]
    assert forge.list_files("policies") == []
    result = promote(forge, 2)
    for ref in (result.commit_sha, result.branch):
        assert forge.read_file(MANIFEST, ref=ref) == manifest_text(2)
    assert forge.read_file(MANIFEST) == manifest_text(1)
    assert forge.read_file(MANIFEST, ref="no-such-branch") is None


# --- the promotion pull request -----------------------------------------------------------


def test_a_promotion_opens_with_one_bot_commit(site: Site) -> None:
    """One pull request per (model, environment), carrying exactly one bot commit on main."""
    forge, people = site.forge, site.people
    main = forge.default_branch().sha
    result = promote(forge, 2)
    assert result.outcome is PromotionOutcome.CREATED
    assert result.branch == BRANCH
    assert people.commits_on(BRANCH) == [result.commit_sha]
    assert people.parents_of(result.commit_sha) == [main]
    assert people.file_at(BRANCH, MANIFEST) == manifest_text(2)
    assert trailer(people.message_of(result.commit_sha), CONTENT_TRAILER) is not None
    number = result.pull_request.number
    for pull in (result.pull_request, forge.get_pull_request(number)):
        assert pull.title == "Promote churn-classifier v2 to production"
        assert pull.body.startswith(BODY_BEGIN)
        assert pull.body.endswith(BODY_END)
        assert "challenger v2" in pull.body
        assert set(pull.labels) == {"promotion", "model:churn-classifier"}
        assert pull.requested_reviewers == ("carol",)
        assert pull.requested_teams == ("ml-reviewers",)
        assert pull.author == APP_BOT
        assert (pull.head_ref, pull.head_sha, pull.base_ref) == (BRANCH, result.commit_sha, "main")
        assert pull.state is PullState.OPEN
        assert not pull.draft and not pull.merged
    assert forge.get_pull_request(number).files == (MANIFEST,)
    assert forge.get_pull_request(number, with_files=False).files is None
    assert [p.number for p in forge.list_promotion_pull_requests()] == [number]


def test_extra_files_ride_in_the_same_commit(site: Site) -> None:
    """A decision record lands with the manifest; the manifest alone says what changed."""
    forge, people = site.forge, site.people
    record = "records/churn-classifier/2.json"
    first = promote(forge, 2, extra_files={record: '{"verdict": "promote"}\n'})
    assert people.commits_on(BRANCH) == [first.commit_sha]
    assert people.file_at(BRANCH, record) == '{"verdict": "promote"}\n'
    pull = forge.get_pull_request(first.pull_request.number)
    assert set(pull.files or ()) == {MANIFEST, record}


def test_a_newer_challenger_updates_the_pull_request(site: Site) -> None:
    """A second challenger replaces the bot's commit and its text, and keeps people's notes."""
    forge, people = site.forge, site.people
    first = promote(forge, 2)
    number = first.pull_request.number
    body = forge.get_pull_request(number).body
    people.edit_body("alice", number, f"Ship it after the freeze.\n\n{body}\n\n-- alice")
    second = promote(forge, 3)
    assert second.outcome is PromotionOutcome.UPDATED
    assert second.pull_request.number == number
    assert second.pull_request.head_sha == second.commit_sha
    assert people.commits_on(BRANCH) == [second.commit_sha]
    assert people.file_at(BRANCH, MANIFEST) == manifest_text(3)
    pull = forge.get_pull_request(number)
    assert pull.head_sha == second.commit_sha
    assert pull.title.startswith("Promote churn-classifier v3")
    assert pull.body.startswith("Ship it after the freeze.\n\n")
    assert pull.body.endswith("\n\n-- alice")
    assert "challenger v3" in pull.body and "challenger v2" not in pull.body
    assert pull.body.count(BODY_BEGIN) == 1
    assert [p.number for p in forge.list_promotion_pull_requests()] == [number]


def test_the_same_challenger_again_changes_nothing(site: Site) -> None:
    """A redelivered event pushes no commit: that would void approvals."""
    forge = site.forge
    first = promote(forge, 2)
    again = promote(forge, 2)
    assert again.outcome is PromotionOutcome.UNCHANGED
    assert again.commit_sha == first.commit_sha
    assert site.people.head_of(BRANCH) == first.commit_sha
    assert len(forge.list_promotion_pull_requests()) == 1
    assert forge.list_comments(first.pull_request.number) == []


def test_a_persons_commit_is_never_pushed_away(site: Site) -> None:
    """The bot comments once and stops, however often the next challengers come."""
    forge, people = site.forge, site.people
    first = promote(forge, 2)
    human = people.commit_file("bob", BRANCH, MANIFEST, "edited by hand\n")
    blocked = promote(forge, 3)
    assert blocked.outcome is PromotionOutcome.BLOCKED_BY_HUMAN_COMMIT
    assert blocked.commit_sha == human
    assert people.head_of(BRANCH) == human
    assert people.file_at(BRANCH, MANIFEST) == "edited by hand\n"
    promote(forge, 4)
    (comment,) = forge.list_comments(first.pull_request.number)
    assert HUMAN_COMMIT_MARKER in comment.body
    assert "never force-pushes" in comment.body
    assert comment.user == APP_BOT


def test_a_persons_branch_without_a_pull_request_is_refused(site: Site) -> None:
    forge = site.forge
    first = promote(forge, 2)
    forge.close_pull_request(first.pull_request.number)
    site.people.commit_file("bob", BRANCH, MANIFEST, "x\n")
    with pytest.raises(ForgeHumanCommitError, match="never force-pushes"):
        promote(forge, 3)


def test_a_closed_promotion_is_followed_by_a_new_pull_request(site: Site) -> None:
    forge = site.forge
    first = promote(forge, 2)
    closed = forge.close_pull_request(first.pull_request.number, "superseded")
    assert closed.state is PullState.CLOSED and not closed.merged
    second = promote(forge, 3)
    assert second.outcome is PromotionOutcome.CREATED
    assert second.pull_request.number != first.pull_request.number
    assert site.people.commits_on(BRANCH) == [second.commit_sha]
    assert [p.number for p in forge.list_promotion_pull_requests()] == [second.pull_request.number]


def test_what_main_already_says_is_nothing_to_promote(site: Site) -> None:
    with pytest.raises(ForgeNothingToChangeError, match="nothing to promote"):
        promote(site.forge, 1)


def test_drafts_both_ways(site: Site) -> None:
    """A rejected challenger opens as a draft; a passing one takes it out; drafts flip."""
    forge = site.forge
    rejected = promote(forge, 2, draft=True)
    number = rejected.pull_request.number
    assert rejected.pull_request.draft
    assert forge.get_pull_request(number, with_files=False).draft
    accepted = promote(forge, 3)
    assert accepted.pull_request.number == number
    assert not accepted.pull_request.draft
    assert not forge.get_pull_request(number, with_files=False).draft
    assert forge.set_draft(number, True).draft
    assert forge.get_pull_request(number, with_files=False).draft
    assert not forge.set_draft(number, False).draft


def test_drafts_refused_by_the_plan(start: Start) -> None:
    """Without drafts, asking for one is a distinct error; a plain pull request still opens."""
    forge = start(drafts_allowed=False).forge
    with pytest.raises(ForgeDraftsRefusedError):
        promote(forge, 2, draft=True)
    plain = promote(forge, 2, labels=["promobot:rejected"])
    assert plain.outcome is PromotionOutcome.CREATED
    assert not plain.pull_request.draft
    assert plain.pull_request.labels == ("promobot:rejected",)
    with pytest.raises(ForgeDraftsRefusedError):
        forge.set_draft(plain.pull_request.number, True)


@pytest.mark.parametrize(
    ("setup", "team", "message"),
    [
        ({"team_without_access": "ops"}, "ops", "Reviews may only be requested from collaborators"),
        ({"missing_permission": "members"}, "ml-reviewers", "Could not resolve to a node"),
    ],
)
def test_refused_review_requests_are_returned(
    start: Start, setup: dict[str, Any], team: str, message: str
) -> None:
    """The pull request opens, the person is asked, and the refusal is reported each time."""
    forge = start(**setup).forge
    result = promote(forge, 2, team_reviewers=[team], reviewers=["carol", "erin"])
    assert result.outcome is PromotionOutcome.CREATED
    assert result.pull_request.requested_teams == ()
    assert {p.reviewers for p in result.review_problems} == {("erin",), ()}
    (problem,) = [p for p in result.review_problems if p.teams]
    assert problem.teams == (team,)
    assert message in problem.message
    assert "Members: read" in problem.hint
    pull = forge.get_pull_request(result.pull_request.number, with_files=False)
    assert pull.requested_reviewers == ("carol",)
    assert pull.requested_teams == ()
    again = promote(forge, 2, team_reviewers=[team])
    assert again.outcome is PromotionOutcome.UNCHANGED
    assert [p.teams for p in again.review_problems] == [(team,)]


# --- bringing a branch up to date, mergeability -------------------------------------------


def test_a_branch_behind_is_made_again_on_the_new_main(site: Site) -> None:
    """The bot's one commit is made again on main: still one commit, with main's changes."""
    forge, people = site.forge, site.people
    result = promote(forge, 2)
    number = result.pull_request.number
    assert forge.update_promotion_branch(number).outcome is PromotionOutcome.UNCHANGED
    main = move_main(site)
    with pytest.raises(ForgeHeadMovedError):
        forge.update_promotion_branch(number, expected_head_sha=main)
    updated = forge.update_promotion_branch(number, expected_head_sha=result.commit_sha)
    assert updated.outcome is PromotionOutcome.UPDATED
    assert updated.pull_request.head_sha == updated.commit_sha
    assert people.commits_on(BRANCH) == [updated.commit_sha]
    assert people.parents_of(updated.commit_sha) == [main]
    assert people.file_at(BRANCH, MANIFEST) == manifest_text(2)
    assert people.file_at(BRANCH, "notes.md") == "n\n"
    again = forge.update_promotion_branch(number)
    assert (again.outcome, again.commit_sha) == (PromotionOutcome.UNCHANGED, updated.commit_sha)


def test_githubs_update_branch_merge_is_not_a_persons_commit(site: Site) -> None:
    """ "Update branch" adds GitHub's merge; the bot still replaces or rebuilds the branch."""
    forge, people = site.forge, site.people
    first = promote(forge, 2)
    number = first.pull_request.number
    move_main(site)
    people.update_branch("carol", number)
    assert len(people.parents_of(people.head_of(BRANCH))) == 2
    updated = forge.update_promotion_branch(number)
    assert updated.outcome is PromotionOutcome.UPDATED
    assert people.commits_on(BRANCH) == [updated.commit_sha]
    move_main(site, "more.md")
    people.update_branch("carol", number)
    second = promote(forge, 3)
    assert second.outcome is PromotionOutcome.UPDATED
    assert people.commits_on(BRANCH) == [second.commit_sha]
    assert people.file_at(BRANCH, MANIFEST) == manifest_text(3)


def test_a_persons_commit_stops_the_update(site: Site) -> None:
    forge, people = site.forge, site.people
    result = promote(forge, 2)
    human = people.commit_file("bob", BRANCH, MANIFEST, "by hand\n")
    move_main(site)
    blocked = forge.update_promotion_branch(result.pull_request.number)
    assert blocked.outcome is PromotionOutcome.BLOCKED_BY_HUMAN_COMMIT
    assert people.head_of(BRANCH) == human
    comments = forge.list_comments(result.pull_request.number)
    assert [HUMAN_COMMIT_MARKER in c.body for c in comments] == [True]


def test_a_branch_main_caught_up_with_has_nothing_left(site: Site) -> None:
    result = promote(site.forge, 2)
    site.people.commit_file("alice", "main", MANIFEST, manifest_text(2), "by hand")
    with pytest.raises(ForgeNothingToChangeError):
        site.forge.update_promotion_branch(result.pull_request.number)


def test_mergeability_is_unknown_until_computed(site: Site) -> None:
    """After main moved GitHub answers `mergeable: null` until it has computed it again."""
    forge = site.forge
    number = promote(forge, 2).pull_request.number
    assert forge.wait_mergeable(number, timeout=10).mergeable is True
    move_main(site)
    unknown = forge.get_pull_request(number, with_files=False)
    assert (unknown.mergeable, unknown.mergeable_state) == (None, "unknown")
    known = forge.wait_mergeable(number, timeout=10)
    assert (known.mergeable, known.mergeable_state) == (True, "clean")
    forge.set_commit_status(known.head_sha, CommitState.FAILURE, "lint", context="ci/lint")
    assert forge.wait_mergeable(number, timeout=10).mergeable_state == "unstable"
    forge.set_draft(number, True)
    assert forge.wait_mergeable(number, timeout=10).mergeable_state == "draft"


def test_a_conflict_is_dirty_and_blocks_the_merge(site: Site) -> None:
    forge = site.forge
    result = promote(forge, 2)
    site.people.commit_file("alice", "main", MANIFEST, manifest_text(7), "by hand")
    pull = forge.wait_mergeable(result.pull_request.number, timeout=10)
    assert (pull.mergeable, pull.mergeable_state) == (False, "dirty")
    with pytest.raises(ForgeMergeBlockedError) as blocked:
        forge.merge(result.pull_request.number, expected_head_sha=result.commit_sha)
    assert blocked.value.kind is MergeBlock.CONFLICT


# --- merging ------------------------------------------------------------------------------


def test_a_squash_merge_lands_one_commit(site: Site) -> None:
    """One commit on main per promotion, so one `git revert` undoes one promotion."""
    forge, people = site.forge, site.people
    before = forge.default_branch().sha
    result = promote(forge, 2)
    number = result.pull_request.number
    done = forge.merge(
        number,
        expected_head_sha=result.commit_sha,
        title="Promote churn-classifier v2 (#1)",
        message="approved by carol",
    )
    assert people.head_of("main") == done.sha
    assert people.parents_of(done.sha) == [before]
    assert people.message_of(done.sha).startswith("Promote churn-classifier v2 (#1)\n\napproved")
    assert people.file_at("main", MANIFEST) == manifest_text(2)
    pull = forge.get_pull_request(number, with_files=False)
    assert pull.merged and pull.state is PullState.CLOSED
    assert pull.merge_commit_sha == done.sha
    assert pull.merged_at is not None
    assert forge.merge(number, expected_head_sha=result.commit_sha).sha == done.sha
    assert forge.list_promotion_pull_requests() == []


def test_merge_messages_say_the_pull_request(site: Site) -> None:
    """CD and history find the pull request of a merge in its message."""
    forge, people = site.forge, site.people
    squashed = merged(forge, 2)
    pull = forge.get_pull_request(squashed.pull_request.number, with_files=False)
    title = people.message_of(str(pull.merge_commit_sha)).splitlines()[0]
    assert title == f"{pull.title} (#{pull.number})"
    second = promote(forge, 3)
    before = people.head_of("main")
    done = forge.merge(
        second.pull_request.number, expected_head_sha=second.commit_sha, method=MergeMethod.MERGE
    )
    assert people.parents_of(done.sha) == [before, second.commit_sha]
    assert people.message_of(done.sha).startswith(
        f"Merge pull request #{second.pull_request.number} from acme/{BRANCH}"
    )


def test_a_head_moved_after_the_decision_is_not_merged(site: Site) -> None:
    forge = site.forge
    result = promote(forge, 2)
    site.people.commit_file("bob", BRANCH, MANIFEST, "x\n")
    with pytest.raises(ForgeHeadMovedError, match="head moved"):
        forge.merge(result.pull_request.number, expected_head_sha=result.commit_sha)
    assert not forge.get_pull_request(result.pull_request.number, with_files=False).merged


@pytest.mark.parametrize("state", ["draft", "closed"])
def test_drafts_and_closed_pull_requests_are_not_merged(site: Site, state: str) -> None:
    forge = site.forge
    result = promote(forge, 2, draft=state == "draft")
    if state == "closed":
        forge.close_pull_request(result.pull_request.number)
    with pytest.raises(ForgeNotMergeableError, match="not mergeable"):
        forge.merge(
            result.pull_request.number,
            expected_head_sha=result.commit_sha,
            method=MergeMethod.MERGE,
        )


def test_required_reviews_block_until_a_writer_approves(start: Start) -> None:
    site = start(protection=Protection(required_approvals=1))
    forge = site.forge
    result = promote(forge, 2)
    number = result.pull_request.number
    with pytest.raises(ForgeMergeBlockedError) as blocked:
        forge.merge(number, expected_head_sha=result.commit_sha)
    assert blocked.value.kind is MergeBlock.REVIEWS
    assert blocked.value.reason == (
        "At least 1 approving review is required by reviewers with write access."
    )
    assert blocked.value.hint is not None
    assert forge.wait_mergeable(number, timeout=10).mergeable_state == "blocked"
    site.people.review("dave", number)
    with pytest.raises(ForgeMergeBlockedError):
        forge.merge(number, expected_head_sha=result.commit_sha)
    site.people.review("carol", number)
    assert forge.merge(number, expected_head_sha=result.commit_sha).sha


def test_required_checks_block_until_they_pass(start: Start) -> None:
    site = start(protection=Protection(required_checks=(("ci/tests", None),)))
    forge = site.forge
    result = promote(forge, 2)
    number, sha = result.pull_request.number, result.commit_sha
    with pytest.raises(ForgeMergeBlockedError) as blocked:
        forge.merge(number, expected_head_sha=sha)
    assert blocked.value.kind is MergeBlock.CHECKS
    assert blocked.value.reason == 'Required status check "ci/tests" is expected.'
    site.people.set_status("bob", sha, CommitState.FAILURE, "ci/tests")
    with pytest.raises(ForgeMergeBlockedError, match="is failing"):
        forge.merge(number, expected_head_sha=sha)
    site.people.set_status("bob", sha, CommitState.SUCCESS, "ci/tests")
    assert forge.merge(number, expected_head_sha=sha).sha


def test_a_verdict_pinned_to_the_app_counts_only_from_the_app(start: Start) -> None:
    site = start(protection=Protection(required_checks=((POLICY, APP_ID),)))
    forge = site.forge
    result = promote(forge, 2)
    number, sha = result.pull_request.number, result.commit_sha
    site.people.set_status("bob", sha, CommitState.SUCCESS, POLICY)
    with pytest.raises(ForgeMergeBlockedError) as blocked:
        forge.merge(number, expected_head_sha=sha)
    assert blocked.value.kind is MergeBlock.CHECKS
    forge.set_verdict(sha, CommitState.SUCCESS, title="promote", summary="ok")
    assert forge.merge(number, expected_head_sha=sha).sha


def test_up_to_date_rule_blocks_a_branch_behind_until_it_is_rebuilt(start: Start) -> None:
    site = start(protection=STRICT)
    forge = site.forge
    result = promote(forge, 2)
    number = result.pull_request.number
    move_main(site)
    assert forge.wait_mergeable(number, timeout=10).mergeable_state == "behind"
    with pytest.raises(ForgeMergeBlockedError) as blocked:
        forge.merge(number, expected_head_sha=result.commit_sha)
    assert blocked.value.kind is MergeBlock.BEHIND
    updated = forge.update_promotion_branch(number, expected_head_sha=result.commit_sha)
    done = forge.merge(number, expected_head_sha=updated.commit_sha)
    assert site.people.head_of("main") == done.sha
    assert site.people.file_at("main", "notes.md") == "n\n"


# --- statuses, check runs and the verdict -------------------------------------------------


def test_statuses_and_check_runs_read_back(site: Site) -> None:
    """The verdict and other required checks are read for one SHA, latest first."""
    forge = site.forge
    sha = promote(forge, 2).commit_sha
    forge.set_commit_status(sha, CommitState.PENDING, "evaluating")
    forge.set_commit_status(sha, CommitState.SUCCESS, "f1 +0.02", target_url="http://x/report")
    forge.set_commit_status(sha, CommitState.FAILURE, "lint", context="ci/lint")
    forge.set_commit_status(sha, CommitState.SUCCESS, "x" * 500, context="ci/long")
    run = forge.set_check_run(
        sha, "promobot/check", conclusion=None, title="checking", summary="recomputing"
    )
    checks = forge.get_checks(sha)
    assert checks.sha == sha
    assert checks.is_passing(POLICY) is True
    assert checks.is_passing("promobot/check") is None
    assert checks.is_passing("ci/lint") is False
    assert checks.is_passing("absent") is None
    assert checks.combined_state is CommitState.FAILURE
    assert [s.context for s in checks.statuses] == [POLICY, "ci/lint", "ci/long"]
    policy = checks.statuses[0]
    assert (policy.state, policy.description) == (CommitState.SUCCESS, "f1 +0.02")
    assert (policy.target_url, policy.creator) == ("http://x/report", APP_BOT)
    assert len(checks.statuses[2].description or "") == 140
    assert [(r.name, r.status, r.app_id) for r in checks.check_runs] == [
        ("promobot/check", "in_progress", APP_ID)
    ]
    again = forge.set_check_run(
        sha,
        "promobot/check",
        conclusion=CheckConclusion.SUCCESS,
        title="matches the registry",
        summary="ok",
        check_run_id=run,
    )
    assert again == run
    assert forge.get_checks(sha).is_passing("promobot/check") is True
    forge.set_commit_status(sha, CommitState.SUCCESS, "fixed", context="ci/lint")
    assert forge.get_checks(sha).combined_state is CommitState.SUCCESS


def test_the_apps_verdict_is_its_own_check_run(site: Site) -> None:
    forge = site.forge
    sha = promote(forge, 2).commit_sha
    forge.set_verdict(sha, CommitState.PENDING, title="evaluating", summary="wait")
    assert forge.get_checks(sha).verdict() is None
    forge.set_verdict(
        sha, CommitState.SUCCESS, title="promote", summary="f1 +0.02", text="## Rules\nall pass"
    )
    run = site.people.check_run(sha, POLICY)
    assert (run["app_id"], run["conclusion"]) == (APP_ID, "success")
    assert run["output"] == {
        "title": "promote",
        "summary": "f1 +0.02",
        "text": "## Rules\nall pass",
    }
    checks = forge.get_checks(sha)
    assert checks.verdict() is True
    assert checks.is_passing(POLICY) is True
    assert checks.foreign_verdicts() == ()


def test_a_forged_status_never_counts(site: Site) -> None:
    """Anyone with write access can post `promobot/policy: success`; it is named, not counted."""
    forge, people = site.forge, site.people
    sha = promote(forge, 2).commit_sha
    people.set_status("bob", sha, CommitState.SUCCESS, POLICY, "lgtm")
    assert forge.get_checks(sha).is_passing(POLICY) is None
    forge.set_verdict(sha, CommitState.FAILURE, title="reject", summary="f1 regressed")
    checks = forge.get_checks(sha)
    assert checks.verdict() is False
    assert checks.is_passing(POLICY) is False
    assert [f.describe() for f in checks.foreign_verdicts()] == [
        "status promobot/policy (success) set by bob"
    ]


def test_a_tokens_verdict_is_its_users_own_status(site: Site) -> None:
    """In token mode the verdict is a status whose creator is the bot; check runs are
    anyone's, the App's included."""
    app = site.forge
    sha = promote(app, 2).commit_sha
    app.set_verdict(sha, CommitState.SUCCESS, title="promote", summary="ok")
    token = site.token_forge("bob")
    assert token.get_checks(sha).verdict() is None
    token.set_verdict(sha, CommitState.FAILURE, title="reject: f1 regressed", summary="ignored")
    site.people.set_status("carol", sha, CommitState.SUCCESS, POLICY)
    checks = token.get_checks(sha)
    assert checks.verdict() is False
    (own,) = [s for s in checks.statuses if s.creator == "bob"]
    assert own.description == "reject: f1 regressed"
    assert sorted(f.by for f in checks.foreign_verdicts()) == ["app promobot (id 4242)", "carol"]


# --- the conversation ---------------------------------------------------------------------


def test_the_bots_marked_comment_is_edited_in_place(site: Site) -> None:
    forge, people = site.forge, site.people
    number = promote(forge, 2).pull_request.number
    people.comment("bob", number, f"quoting {STATUS} here")
    first = forge.upsert_comment(number, STATUS, "waiting for approval")
    second = forge.upsert_comment(number, STATUS, "ready to merge")
    assert second.id == first.id
    assert second.body == f"{STATUS}\nready to merge"
    comments = forge.list_comments(number)
    assert [(c.user, c.body) for c in comments] == [
        ("bob", f"quoting {STATUS} here"),
        (APP_BOT, f"{STATUS}\nready to merge"),
    ]
    assert comments[1].updated_at >= comments[1].created_at


def test_plain_comments_in_order_and_a_close_explained_once(site: Site) -> None:
    forge = site.forge
    number = promote(forge, 2).pull_request.number
    one = forge.create_comment(number, "one")
    forge.create_comment(number, "two")
    assert one.user == APP_BOT and one.created_at.tzinfo is not None
    forge.close_pull_request(number, "rejected: f1 regressed")
    closed = forge.close_pull_request(number, "rejected: f1 regressed")
    assert closed.state is PullState.CLOSED and not closed.merged
    bodies = [c.body.splitlines()[-1] for c in forge.list_comments(number)]
    assert bodies == ["one", "two", "rejected: f1 regressed"]
    assert forge.list_promotion_pull_requests() == []


def test_labels_added_and_removed(site: Site) -> None:
    forge = site.forge
    number = promote(forge, 2, labels=[]).pull_request.number
    forge.add_labels(number, ["hold"])
    forge.add_labels(number, ["hold", "rollback"])
    assert forge.get_pull_request(number, with_files=False).labels == ("hold", "rollback")
    forge.remove_label(number, "hold")
    forge.remove_label(number, "hold")
    assert forge.get_pull_request(number, with_files=False).labels == ("rollback",)


def test_reviews_say_who_what_and_on_which_commit(site: Site) -> None:
    """Approvals count only for the head they were given on."""
    forge, people = site.forge, site.people
    result = promote(forge, 2)
    number = result.pull_request.number
    people.review("carol", number)
    people.review("bob", number, "REQUEST_CHANGES", "wait")
    reviews = forge.list_reviews(number)
    assert [(r.user, r.state) for r in reviews] == [
        ("carol", "APPROVED"),
        ("bob", "CHANGES_REQUESTED"),
    ]
    assert all(r.commit_id == result.commit_sha for r in reviews)
    assert all(r.submitted_at is not None and r.submitted_at.tzinfo for r in reviews)
    pull = forge.get_pull_request(number, with_files=False)
    assert (pull.requested_reviewers, pull.requested_teams) == ((), ("ml-reviewers",))


def test_an_unknown_pull_request_is_an_error(site: Site) -> None:
    for read in (site.forge.get_pull_request, site.forge.list_comments, site.forge.list_reviews):
        with pytest.raises(ForgeError, match="HTTP 404"):
            read(99)


# --- people, teams, permissions -----------------------------------------------------------


def test_team_membership(site: Site) -> None:
    """Members and maintainers of the policy's team may approve; a wrong team is an error."""
    forge = site.forge
    assert forge.is_team_member(ORG, "ml-reviewers", "carol")
    assert forge.is_team_member(ORG, "ml-reviewers", "alice")
    assert not forge.is_team_member(ORG, "ml-reviewers", "bob")
    with pytest.raises(ForgeTeamNotFoundError, match="acme/no-such-team") as missing:
        forge.is_team_member(ORG, "no-such-team", "carol")
    assert "approval.teams" in (missing.value.hint or "")


def test_collaborator_permissions(site: Site) -> None:
    """Comment commands need write permission."""
    forge = site.forge
    assert forge.collaborator_permission("alice") is Permission.ADMIN
    assert forge.collaborator_permission("bob") is Permission.WRITE
    assert forge.collaborator_permission("carol") is Permission.WRITE
    assert forge.collaborator_permission("dave") is Permission.READ
    assert forge.collaborator_permission("erin") is Permission.READ
    assert forge.collaborator_permission("nobody-at-all") is Permission.NONE


def ask_team(forge: Forge) -> object:
    return forge.is_team_member(ORG, "ml-reviewers", "carol")


def set_status(forge: Forge) -> object:
    return forge.set_commit_status(forge.default_branch().sha, CommitState.SUCCESS, "ok")


@pytest.mark.parametrize(("missing", "call"), [("members", ask_team), ("statuses", set_status)])
def test_a_missing_permission_is_named(
    start: Start, missing: str, call: Callable[[Forge], object]
) -> None:
    """Without it GitHub refuses; "not a member" would wait for approvals forever."""
    forge = start(missing_permission=missing).forge
    with pytest.raises(ForgePermissionError) as refused:
        call(forge)
    assert refused.value.permission == missing
    granted = forge.installation_permissions()
    assert granted == {k: v for k, v in APP_PERMISSIONS.items() if k != missing}
    assert [need.name for need in missing_permissions(granted)] == [missing]


def test_installation_permissions_need_an_app(site: Site) -> None:
    assert site.forge.installation_permissions() == APP_PERMISSIONS
    with pytest.raises(ForgeError, match="a token has no installation permissions"):
        site.token_forge("bob").installation_permissions()


def test_git_credentials(start: Start) -> None:
    """An installation token, renewed when due (tokens last 20 s here); a token as it is."""
    site = start(installation_token_ttl=20)
    first = site.forge.fetch_credentials()
    second = site.forge.fetch_credentials()
    assert first.username == "x-access-token"
    assert first.password != second.password
    assert site.people.can_read(second)
    assert first.password.get_secret_value() not in repr(first)
    token = site.token_forge("bob").fetch_credentials()
    assert token.password.get_secret_value() == "token-bob"
    assert site.people.can_read(token)


# --- commits, deployments, history -------------------------------------------------------


def test_whose_commits_the_bot_makes(site: Site) -> None:
    """An App's are its bot's; a token's its user's or the configured identity's, and the
    bot knows them again when the next challenger comes."""
    people = site.people
    app = promote(site.forge, 2)
    assert [who.partition(" <")[0] for who in people.made_by(app.commit_sha)] == [APP_BOT] * 2
    site.forge.close_pull_request(app.pull_request.number)
    bob = site.token_forge("bob")
    first = promote(bob, 3, environment="staging", manifest_path=STAGING)
    assert people.made_by(first.commit_sha)[0] == "Bob <bob@example.com>"
    assert promote(bob, 4, environment="staging", manifest_path=STAGING).outcome is (
        PromotionOutcome.UPDATED
    )
    named = site.token_forge("bob", commit_name="Release bot", commit_email="release@example.com")
    second = promote(named, 5, model="fraud", manifest_path="model-manifests/production/f.yaml")
    assert people.made_by(second.commit_sha) == ("Release bot <release@example.com>",) * 2
    assert promote(
        named, 6, model="fraud", manifest_path="model-manifests/production/f.yaml"
    ).outcome is (PromotionOutcome.UPDATED)


def test_deployments_and_their_statuses(site: Site) -> None:
    """CD records each apply as a deployment, in progress then done."""
    forge = site.forge
    head = forge.default_branch()
    deployment = forge.create_deployment(
        head.sha, "production", payload={"model": "churn-classifier"}, description="v2"
    )
    assert (deployment.sha, deployment.ref, deployment.environment) == (
        head.sha,
        head.sha,
        "production",
    )
    forge.set_deployment_status(deployment.id, DeploymentState.IN_PROGRESS, description="rolling")
    forge.set_deployment_status(
        deployment.id, DeploymentState.SUCCESS, description="v2 serves", environment_url="http://x"
    )
    by_branch = forge.create_deployment("main", "staging")
    assert by_branch.sha == head.sha
    (first, second) = site.people.deployments()
    assert (first["id"], first["sha"], first["environment"]) == (
        deployment.id,
        head.sha,
        "production",
    )
    assert first["payload"] == {"model": "churn-classifier"}
    assert first["creator"] == APP_BOT
    assert first["states"] == ["in_progress", "success"]
    assert first["descriptions"] == ["rolling", "v2 serves"]
    assert (second["environment"], second["states"]) == ("staging", [])
    with pytest.raises(ForgeError, match="No ref found"):
        forge.create_deployment("no-such-ref", "production")
    with pytest.raises(ForgeError, match="HTTP 404"):
        forge.set_deployment_status(99999, DeploymentState.SUCCESS)


def test_file_history_of_the_default_branch(site: Site) -> None:
    forge = site.forge
    first = merged(forge, 2)
    move_main(site)
    second = merged(forge, 3)
    history = forge.file_history(MANIFEST, 10)
    numbers = [first.pull_request.number, second.pull_request.number]
    shas = [forge.get_pull_request(n, with_files=False).merge_commit_sha for n in numbers]
    assert [c.sha for c in history[:2]] == shas[::-1]
    assert history[0].message.startswith("Promote churn-classifier v3")
    assert all(c.committed_at.tzinfo is not None for c in history)
    assert [c.sha for c in forge.file_history(MANIFEST, 1)] == [shas[1]]
    assert forge.file_history("notes.md", 10)[0].message.startswith("unrelated change")
    assert forge.file_history("absent.md", 10) == []


# --- reverts ------------------------------------------------------------------------------


def test_a_revert_restores_what_main_had_before(site: Site) -> None:
    forge, people = site.forge, site.people
    promoted = merged(forge, 2)
    number = promoted.pull_request.number
    result = forge.open_revert(number)
    pull = result.pull_request
    assert result.created and result.merge_sha is None
    assert pull.head_ref == f"promobot/revert/{number}"
    assert pull.labels == ("rollback",)
    assert pull.title.startswith('Revert "Promote churn-classifier v2')
    assert f"#{number}" in pull.body
    assert people.commits_on(pull.head_ref) == [pull.head_sha]
    assert people.file_at(pull.head_ref, MANIFEST) == manifest_text(1)
    assert forge.get_pull_request(pull.number).files == (MANIFEST,)
    again = forge.open_revert(number, merge=True)
    assert not again.created and again.pull_request.number == pull.number
    assert again.merge_sha == people.head_of("main")
    assert people.file_at("main", MANIFEST) == manifest_text(1)


def test_a_revert_deletes_what_the_promotion_added(site: Site) -> None:
    forge = site.forge
    added = merged(
        forge, 5, environment="staging", manifest_path=STAGING, manifest_text="model: x\n"
    )
    result = forge.open_revert(added.pull_request.number, merge=True, labels=("rollback", "ops"))
    assert result.merge_sha is not None
    assert result.pull_request.labels == ("rollback", "ops")
    assert site.people.file_at("main", STAGING) is None
    assert STAGING not in forge.list_files("model-manifests")


def test_a_revert_refuses_what_changed_again_and_what_is_open(site: Site) -> None:
    forge = site.forge
    promoted = merged(forge, 2)
    merged(forge, 3)
    with pytest.raises(ForgeRevertConflictError, match="changed again"):
        forge.open_revert(promoted.pull_request.number)
    opened = promote(forge, 4)
    with pytest.raises(ForgeError, match="not merged"):
        forge.open_revert(opened.pull_request.number)


def test_a_revert_left_behind_is_made_again_before_it_merges(start: Start) -> None:
    site = start(protection=STRICT)
    forge = site.forge
    promoted = merged(forge, 2)
    opened = forge.open_revert(promoted.pull_request.number)
    move_main(site)
    done = forge.open_revert(promoted.pull_request.number, merge=True)
    assert not done.created
    assert done.pull_request.number == opened.pull_request.number
    assert done.merge_sha == site.people.head_of("main")
    assert site.people.file_at("main", MANIFEST) == manifest_text(1)
    assert site.people.file_at("main", "notes.md") == "n\n"
