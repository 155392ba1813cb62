"""HTTP requests per promotion: promobot's forge adapter against the naive PyGithub path.

Starts the sandbox GitHub on a free loopback port and counts the requests it logs
(`GET /_sandbox/requests`) for
  (a) opening a promotion pull request with its report, verdict status and reviewers,
  (b) updating it with a newer challenger (new commit, report replaced, status),
  (c) merging it with the head-SHA guard,
and, for (a), the straightforward PyGithub way (`get_contents` + `update_file` +
`create_pull` + ...). The adapter runs as a GitHub App installation, warmed up the
way the bot runs: its installation token and the default branch's name are known
(the propose workflow has just read the manifest from the default branch).

    .venv/bin/python benchmarks/github_api_calls.py

The last line printed is `requests_per_promotion=N` (N is the count for (a); goal <= 8).
"""

from __future__ import annotations

import sys
import tempfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from github import Auth, Github
from promobot_sandbox.github import SandboxServer, prepare

from bot.forge.base import CommitState, PromotionPR
from bot.forge.github import GitHubForge
from bot.forge.settings import GitHubSettings

REPO = "acme/models"
APP_ID = 4242
INSTALLATION_ID = 777
BOT_TOKEN = "token-bob"
MANIFEST = "model-manifests/production/{model}.yaml"
LABELS = ["promotion", "env:production"]
REVIEWERS = ["carol"]
TEAMS = ["ml-reviewers"]
GOAL = 8


def manifest(model: str, version: int) -> str:
    return (
        f"apiVersion: promobot/v1\nkind: ModelManifest\nmodel: {model}\n"
        f'environment: production\nversion: "{version}"\n'
    )


def report(model: str, version: int) -> str:
    rows = "| metric | champion | challenger |\n|---|---|---|\n| f1 | 0.86 | 0.88 |"
    return f"## {model} v{version}\n\n{rows}"


def write_seed(folder: Path) -> Path:
    """Users, a team, one repository with two manifests, and the promobot App."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    (folder / "app.pem").write_bytes(pem)
    content = folder / "content"
    for model in ("churn-classifier", "fraud-detector"):
        path = content / MANIFEST.format(model=model)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(manifest(model, 1))
    seed = {
        "users": [
            {"login": "bob", "token": BOT_TOKEN, "email": "bob@example.com"},
            {"login": "carol", "token": "token-carol", "email": "carol@example.com"},
        ],
        "orgs": [{"login": "acme", "members": ["bob", "carol"]}],
        "teams": [
            {
                "org": "acme",
                "slug": "ml-reviewers",
                "members": ["carol"],
                "repositories": {REPO: "write"},
            }
        ],
        "repositories": [
            {"full_name": REPO, "content": str(content), "collaborators": {"bob": "write"}}
        ],
        "apps": [
            {
                "id": APP_ID,
                "slug": "promobot",
                "owner": "acme",
                "private_key": str(folder / "app.pem"),
                "installations": [{"id": INSTALLATION_ID, "account": "acme"}],
            }
        ],
    }
    seed_file = folder / "seed.yaml"
    seed_file.write_text(yaml.safe_dump(seed))
    return seed_file


class RequestCounter:
    """Reads and clears the sandbox's request log."""

    def __init__(self, url: str) -> None:
        self._http = httpx.Client(base_url=f"{url}/_sandbox", timeout=30)

    def measure(self, action: Callable[[], Any]) -> tuple[Any, list[dict[str, Any]]]:
        self._http.delete("/requests").raise_for_status()
        result = action()
        entries = self._http.get("/requests").json()
        return result, [e for e in entries if not e["path"].endswith("/access_tokens")]

    def close(self) -> None:
        self._http.close()


def promote(forge: GitHubForge, version: int) -> PromotionPR:
    """One propose step: open or update the pull request, then set the verdict status."""
    model = "churn-classifier"
    result = forge.open_or_update_promotion(
        model=model,
        environment="production",
        manifest_path=MANIFEST.format(model=model),
        manifest_text=manifest(model, version),
        title=f"Promote {model} v{version} to production",
        body=report(model, version),
        labels=LABELS,
        reviewers=REVIEWERS,
        team_reviewers=TEAMS,
    )
    forge.set_commit_status(result.commit_sha, CommitState.SUCCESS, "f1 +0.02: promote")
    return result


def naive_open(gh: Github) -> None:
    """The same step as a PyGithub user writes it from the docs, file by file."""
    model = "fraud-detector"
    path = MANIFEST.format(model=model)
    branch = f"promobot/production/{model}"
    repo = gh.get_repo(REPO)
    if repo.get_pulls(state="open", head=f"acme:{branch}").totalCount:
        raise RuntimeError("the naive path found an open pull request; start from a fresh sandbox")
    base = repo.get_branch(repo.default_branch)
    repo.create_git_ref(f"refs/heads/{branch}", base.commit.sha)
    current = repo.get_contents(path, ref=branch)
    assert not isinstance(current, list)
    update = repo.update_file(
        path, f"Promote {model} v2", manifest(model, 2), current.sha, branch=branch
    )
    pull = repo.create_pull(
        base=repo.default_branch, head=branch, title=f"Promote {model} v2", body=report(model, 2)
    )
    pull.add_to_labels(*LABELS)
    pull.create_review_request(reviewers=REVIEWERS, team_reviewers=TEAMS)
    repo.get_commit(update["commit"].sha).create_status(
        "success", description="f1 +0.02", context="promobot/policy"
    )


def show(label: str, entries: list[dict[str, Any]]) -> None:
    calls = Counter(f"{e['method']} {shorten(e['path'])}" for e in entries)
    print(f"  {label}: {len(entries)} requests")
    for call, count in calls.items():
        print(f"      {count} x {call}")


def shorten(path: str) -> str:
    prefix = f"/api/v3/repos/{REPO}"
    return (path[len(prefix) :] or "/") if path.startswith(prefix) else path


def run(folder: Path) -> int:
    print("starting the sandbox GitHub ...", flush=True)
    server = SandboxServer(prepare(folder / "data", write_seed(folder))).start()
    counter = RequestCounter(server.url)
    settings = GitHubSettings(
        base_url=server.api_url,
        repository=REPO,
        app_id=APP_ID,
        installation_id=INSTALLATION_ID,
        private_key_path=folder / "app.pem",
        bot_login="promobot[bot]",
        seconds_between_writes=0,
    )
    forge = GitHubForge(settings)
    naive = Github(
        base_url=server.api_url,
        auth=Auth.Token(BOT_TOKEN),
        seconds_between_requests=0,
        seconds_between_writes=0,
    )
    try:
        forge.default_branch()
        print("measuring promobot (a) open, (b) update, (c) merge ...", flush=True)
        opened, open_log = counter.measure(lambda: promote(forge, 2))
        updated, update_log = counter.measure(lambda: promote(forge, 3))
        number, head = updated.pull_request.number, updated.commit_sha
        _, merge_log = counter.measure(lambda: forge.merge(number, expected_head_sha=head))
        print("measuring the naive PyGithub path for (a) ...", flush=True)
        _, naive_log = counter.measure(lambda: naive_open(naive))
    finally:
        forge.close()
        naive.close()
        counter.close()
        server.stop()
    assert opened.pull_request.number != 0
    return summarise(open_log, update_log, merge_log, naive_log)


def summarise(
    open_log: list[dict[str, Any]],
    update_log: list[dict[str, Any]],
    merge_log: list[dict[str, Any]],
    naive_log: list[dict[str, Any]],
) -> int:
    """Print each step's requests, the table, and the goal; 0 when (a) meets it."""
    print()
    show("promobot (a) open + report + status + reviewers", open_log)
    show("promobot (b) update with a newer challenger", update_log)
    show("promobot (c) merge with the head-SHA guard", merge_log)
    show("naive PyGithub (a)", naive_log)
    print()
    print(f"{'step':<48}{'promobot':>10}{'naive':>8}")
    print(
        f"{'(a) open PR + report + status + reviewers':<48}{len(open_log):>10}{len(naive_log):>8}"
    )
    print(f"{'(b) update with a newer challenger':<48}{len(update_log):>10}{'-':>8}")
    print(f"{'(c) merge':<48}{len(merge_log):>10}{'-':>8}")
    print(f"naive / promobot for (a): {len(naive_log) / len(open_log):.2f}x")
    print(f"goal (a) <= {GOAL}: {'met' if len(open_log) <= GOAL else 'MISSED'}")
    print(f"requests_per_promotion={len(open_log)}")
    return 0 if len(open_log) <= GOAL else 1


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="promobot-api-calls-") as folder:
        return run(Path(folder))


if __name__ == "__main__":
    sys.exit(main())
