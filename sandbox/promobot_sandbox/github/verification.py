"""Which commits GitHub would show as `Verified`.

GitHub signs the commits it makes itself: merges and squashes through the API or the
web ("web-flow"), "Update branch" merges, and commits a GitHub App creates through the
REST API without a custom author or committer. Everything else the sandbox holds is
unsigned: it never verifies a GPG or SSH signature a person pushed.
https://docs.github.com/en/authentication/managing-commit-signature-verification/about-commit-signature-verification#signature-verification-for-bots
"""

from __future__ import annotations

from promobot_sandbox.github.core import Json, now
from promobot_sandbox.github.render_base import unsigned
from promobot_sandbox.github.store import Record, Store

_SIGNATURE = (
    "-----BEGIN PGP SIGNATURE-----\n\nwsBcBAABCAAQBQJsandbox\n=sand\n-----END PGP SIGNATURE-----\n"
)


def scope_of(repo: Record) -> str:
    return str(repo["full_name"]).lower()


def mark_verified(store: Store, repo: Record, sha: str) -> None:
    if store.find_one("verification", scope=scope_of(repo), key=sha) is None:
        store.insert("verification", {"verified_at": now()}, scope=scope_of(repo), key=sha)


def is_verified(store: Store, repo: Record, sha: str) -> bool:
    return store.find_one("verification", scope=scope_of(repo), key=sha) is not None


def verification(store: Store, repo: Record, sha: str, payload: str) -> Json:
    """The `verification` object of a commit; `payload` is the commit's signed text."""
    record = store.find_one("verification", scope=scope_of(repo), key=sha)
    if record is None:
        return unsigned()
    return {
        "verified": True,
        "reason": "valid",
        "signature": _SIGNATURE,
        "payload": payload,
        "verified_at": record["verified_at"],
    }
