"""Conditional requests: a repeated read is answered 304, which GitHub does not count
against the installation's 5,000 requests an hour."""

from __future__ import annotations

import threading
from collections.abc import Callable

import requests

from bot.forge.conditional import ConditionalCache, Entry, cache_key
from bot.forge.github import GitHubForge
from bot.forge.settings import GitHubSettings
from tests.forge.support import MANIFEST, app_settings, promote
from tests.support.github_sandbox import GitHubSandbox


def gate_reads(forge: GitHubForge, number: int) -> None:
    """What gating a promotion pull request reads."""
    pull = forge.get_pull_request(number)
    forge.read_file(MANIFEST, pull.head_sha)
    forge.read_file(MANIFEST)
    forge.list_files("model-manifests")
    forge.list_reviews(number)
    forge.get_checks(pull.head_sha)
    forge.list_comments(number)


def spent(sandbox: GitHubSandbox) -> int:
    """Requests that counted against a rate limit since the log was cleared."""
    return sum(1 for entry in sandbox.requests() if entry["counted"])


def test_a_repeated_read_costs_no_rate_limit(
    forge: GitHubForge, github_sandbox: GitHubSandbox
) -> None:
    """The second gate of an unchanged pull request is all 304s, served from the cache."""
    number = promote(forge, 2).pull_request.number
    forge.wait_mergeable(number, timeout=10)
    github_sandbox.clear_requests()
    gate_reads(forge, number)
    first = spent(github_sandbox)
    github_sandbox.clear_requests()
    gate_reads(forge, number)
    answers = [entry["status"] for entry in github_sandbox.requests()]
    assert first > 0
    assert spent(github_sandbox) == 0
    assert set(answers) == {304}
    assert len(answers) >= first


def test_a_change_is_read_in_full(forge: GitHubForge, github_sandbox: GitHubSandbox) -> None:
    """The ETag no longer matches once the resource changed: the new body is read."""
    number = promote(forge, 2).pull_request.number
    assert forge.list_comments(number) == []
    repo = github_sandbox.github("bob").get_repo(github_sandbox.repo_name)
    repo.get_issue(number).create_comment("new")
    assert [c.body for c in forge.list_comments(number)] == ["new"]
    assert [c.body for c in forge.list_comments(number)] == ["new"]


def test_cache_turned_off(
    github_sandbox: GitHubSandbox, make_forge: Callable[[GitHubSettings], GitHubForge]
) -> None:
    """`conditional_cache_entries: 0` sends no `If-None-Match` at all."""
    forge = make_forge(app_settings(github_sandbox, conditional_cache_entries=0))
    forge.read_file(MANIFEST)
    github_sandbox.clear_requests()
    forge.read_file(MANIFEST)
    assert [e["status"] for e in github_sandbox.requests()] == [200]


def prepared(url: str, token: str) -> requests.PreparedRequest:
    request = requests.Request("GET", url, headers={"Authorization": f"token {token}"})
    return request.prepare()


def test_entries_are_per_credentials_and_never_hold_the_token() -> None:
    """ETags vary with `Authorization`; the key keeps a digest of it, not the token."""
    first = cache_key(prepared("https://api.github.com/repos/a/b", "ghs_first"))
    renewed = cache_key(prepared("https://api.github.com/repos/a/b", "ghs_renewed"))
    assert first != renewed
    assert "ghs_first" not in first


def test_the_cache_is_bounded_least_recently_used_first() -> None:
    """Memory stays bounded on a long-running service."""
    cache = ConditionalCache(max_entries=2)
    for key in ("a", "b"):
        cache.put(key, Entry(etag=key, headers={}, body=b""))
    assert cache.get("a") is not None
    cache.put("c", Entry(etag="c", headers={}, body=b""))
    assert len(cache) == 2
    assert cache.get("b") is None
    assert cache.get("a") is not None


def test_the_cache_is_bounded_in_bytes_too() -> None:
    """A few large listings cannot push memory past the byte budget."""
    cache = ConditionalCache(max_entries=100, max_bytes=10)
    for key in ("a", "b", "c"):
        cache.put(key, Entry(etag=key, headers={}, body=b"1234"))
    cache.put("huge", Entry(etag="huge", headers={}, body=b"x" * 11))
    assert cache.get("a") is None
    assert cache.get("huge") is None
    assert [cache.get(k) is not None for k in ("b", "c")] == [True, True]


def test_the_cache_is_safe_to_share_between_threads() -> None:
    """The service's workers share one adapter per repository."""
    cache = ConditionalCache(max_entries=50)
    errors: list[BaseException] = []

    def churn(worker: int) -> None:
        try:
            for index in range(2000):
                key = f"{worker}:{index % 80}"
                cache.put(key, Entry(etag=key, headers={}, body=b"x"))
                cache.get(f"{(worker + 1) % 4}:{index % 80}")
        except BaseException as error:
            errors.append(error)

    workers = [threading.Thread(target=churn, args=(n,)) for n in range(4)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join(timeout=30)
    assert errors == []
    assert len(cache) == 50
