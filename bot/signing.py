"""SSH signatures of decision records, made and checked with OpenSSH's `ssh-keygen -Y`.

A record signed with the key in `PROMOBOT_RECORD_SIGNING_KEY` gets its signature beside
it (`<model>.decision.json.sig`, the armoured SSHSIG format). Anyone can check it with
`ssh-keygen -Y verify` and an allowed-signers file, or with `promobot verify-record`,
which runs the same. The namespace keeps a record's signature from passing for a commit's
or a file's signature made with the same key (`man ssh-keygen`, "-Y sign").
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from bot.errors import UserInputError

NAMESPACE = "promobot-decision"
SIGNATURE_SUFFIX = ".sig"
TIMEOUT_SECONDS = 30


def _ssh_keygen() -> str:
    found = shutil.which("ssh-keygen")
    if found is None:
        raise UserInputError(
            "signing and checking decision records needs OpenSSH's ssh-keygen",
            hint="install it (Debian: apt-get install openssh-client)",
        )
    return found


@dataclass(frozen=True)
class SshSigner:
    """Signs texts with one SSH private key (any type `ssh-keygen` signs with)."""

    key: Path

    def check(self) -> None:
        """Refuse a key that is not there, before the first record needs it."""
        if not self.key.is_file():
            raise UserInputError(
                f"PROMOBOT_RECORD_SIGNING_KEY: {self.key} is not a file",
                hint="name an SSH private key, for example one made with "
                "`ssh-keygen -t ed25519 -N '' -f promobot-records`",
            )

    def sign(self, text: str) -> str:
        """The armoured signature of `text`."""
        self.check()
        done = subprocess.run(
            [_ssh_keygen(), "-Y", "sign", "-q", "-f", str(self.key), "-n", NAMESPACE],
            input=text.encode(),
            capture_output=True,
            timeout=TIMEOUT_SECONDS,
            check=False,
        )
        if done.returncode != 0:
            raise UserInputError(
                f"ssh-keygen could not sign with {self.key}: {done.stderr.decode().strip()}",
                hint="the key must be a private key without a passphrase",
            )
        return done.stdout.decode()


@dataclass(frozen=True)
class Verification:
    """What `ssh-keygen -Y verify` said of a record and its signature."""

    ok: bool
    message: str


def verify_text(text: str, signature: str, allowed_signers: Path, identity: str) -> Verification:
    """Whether `signature` is `identity`'s signature of `text`, per `allowed_signers`
    (the format of `man ssh-keygen`, "ALLOWED SIGNERS": `identity key-type key`)."""
    if not allowed_signers.is_file():
        raise UserInputError(
            f"{allowed_signers}: no such allowed-signers file",
            hint="write one line `IDENTITY KEY-TYPE PUBLIC-KEY`, e.g. from the key's .pub file",
        )
    with tempfile.TemporaryDirectory() as folder:
        sig = Path(folder, "record.sig")
        sig.write_text(signature, encoding="utf-8")
        done = subprocess.run(
            [
                _ssh_keygen(),
                "-Y",
                "verify",
                "-f",
                str(allowed_signers),
                "-I",
                identity,
                "-n",
                NAMESPACE,
                "-s",
                str(sig),
            ],
            input=text.encode(),
            capture_output=True,
            timeout=TIMEOUT_SECONDS,
            check=False,
        )
    said = (done.stdout.decode() + done.stderr.decode()).strip()
    return Verification(ok=done.returncode == 0, message=said)
