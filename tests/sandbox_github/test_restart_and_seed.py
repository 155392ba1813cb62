"""State lives under the data folder: a restart keeps it, a seed only adds."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import yaml
from promobot_sandbox.errors import SeedError
from promobot_sandbox.github import SandboxServer, prepare
from promobot_sandbox.github.seed import load_seed

from tests.sandbox_github.helpers import open_pull
from tests.support.contract import RestContract, WebhookContract
from tests.support.github_sandbox import make_checks, start_github_sandbox


def test_state_survives_a_restart(
    tmp_path: Path, rest_contract: RestContract, webhook_contract: WebhookContract
) -> None:
    data_dir = tmp_path / "data"
    with start_github_sandbox(
        tmp_path / "one", make_checks(rest_contract, webhook_contract), data_dir=data_dir
    ) as first:
        repo = first.github("bob").get_repo(first.repo_name)
        pr = open_pull(repo)
        pr.create_issue_comment("before restart")
        head = pr.head.sha
    with start_github_sandbox(
        tmp_path / "two", make_checks(rest_contract, webhook_contract), data_dir=data_dir
    ) as second:
        repo = second.github("bob").get_repo(second.repo_name)
        again = repo.get_pull(pr.number)
        assert (again.title, again.head.sha, again.state) == (pr.title, head, "open")
        assert [c.body for c in again.get_issue_comments()] == ["before restart"]
        assert open_pull(repo, branch="second").number == pr.number + 1
        again.merge(merge_method="squash")
        second.receiver.wait_for("pull_request", "closed")


def test_seed_on_an_existing_folder_adds_only_what_is_missing(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    seed = tmp_path / "seed.yaml"
    seed.write_text(
        yaml.safe_dump(
            {
                "users": [{"login": "ann", "token": "t-ann"}],
                "repositories": [{"full_name": "ann/models"}],
            }
        )
    )
    server = SandboxServer(prepare(data_dir, seed)).start()
    with httpx.Client(base_url=server.api_url, headers={"Authorization": "token t-ann"}) as http:
        first_main = http.get("/repos/ann/models/git/ref/heads/main").json()["object"]["sha"]
    server.stop()
    seed.write_text(
        yaml.safe_dump(
            {
                "users": [{"login": "ann", "token": "t-ann"}, {"login": "ben", "token": "t-ben"}],
                "repositories": [{"full_name": "ann/models"}, {"full_name": "ben/other"}],
            }
        )
    )
    server = SandboxServer(prepare(data_dir, seed)).start()
    with httpx.Client(base_url=server.api_url, headers={"Authorization": "token t-ben"}) as http:
        assert (
            http.get("/repos/ann/models/git/ref/heads/main").json()["object"]["sha"] == first_main
        )
        assert http.get("/repos/ben/other").json()["default_branch"] == "main"
    server.stop()


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("users: [{login: a, tokn: x}]", "users.0.tokn"),
        ("repositories: [{full_name: x/y, default_branch: 3}]", "default_branch"),
        ("users: [", "not valid YAML"),
    ],
)
def test_bad_seed_files_name_the_problem(tmp_path: Path, text: str, problem: str) -> None:
    seed = tmp_path / "seed.yaml"
    seed.write_text(text)
    with pytest.raises(SeedError) as error:
        load_seed(seed)
    assert problem in str(error.value)
    assert str(seed) in str(error.value)
