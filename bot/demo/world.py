"""The demo's local world: sandbox GitHub, MLflow, scoring server and the bot, as processes."""

from __future__ import annotations

import secrets
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from bot.demo.processes import Service, Services, free_port, promobot_command
from bot.forge.permissions import EVENTS, required_permissions

ORG = "acme"
REPO = "acme/models"
UNRELATED_REPO = "acme/webapp"
"""In the same organisation and installation, but no `policies/`: the bot leaves it alone."""
TEAM = "churn-ds"
APP_ID = 1001
INSTALLATION_ID = 2002
BOT_LOGIN = "promobot[bot]"
USERS = {"alice": "alice-demo-token", "carol": "carol-demo-token"}
"""alice administers the organisation; carol is in the churn team and approves."""
APP_PERMISSIONS = required_permissions()
"""The installation's permissions: exactly the README's table ("Install as a GitHub App"),
in GitHub's names; `members` is the organization permission Members, to read teams."""


@dataclass
class World:
    """Ports, paths and secrets of one demo run."""

    workdir: Path
    repo_root: Path
    ports: dict[str, int] = field(default_factory=dict)
    github_secret: str = field(default_factory=lambda: secrets.token_hex(16))
    mlflow_secret: str = field(default_factory=lambda: secrets.token_hex(16))
    services: Services = field(init=False)

    def __post_init__(self) -> None:
        self.services = Services(self.workdir / "logs")
        for name in ("github", "mlflow", "bot", "serving"):
            self.ports[name] = free_port()

    def url(self, name: str) -> str:
        """Root URL of a service."""
        return f"http://127.0.0.1:{self.ports[name]}"

    @property
    def github_api(self) -> str:
        """The sandbox's REST root, for PyGithub's base_url."""
        return f"{self.url('github')}/api/v3"

    @property
    def tracking_uri(self) -> str:
        """The MLflow server."""
        return self.url("mlflow")

    @property
    def database_uri(self) -> str:
        """MLflow's SQLite database: written directly before the server starts."""
        return f"sqlite:///{self.workdir / 'mlflow' / 'mlflow.db'}"

    @property
    def artifacts_uri(self) -> str:
        """Where model artifacts are stored (clients write there directly)."""
        return (self.workdir / "mlflow" / "artifacts").as_uri()

    @property
    def key_path(self) -> Path:
        """The GitHub App's private key."""
        return self.workdir / "app-key.pem"

    def bare_repo(self) -> Path:
        """Where the sandbox keeps the repository (a person can clone and push it)."""
        found = sorted((self.workdir / "github").rglob("models.git"))
        if not found:
            raise FileNotFoundError("the sandbox has not created acme/models yet")
        return found[0]


def launch_serving(world: World) -> None:
    """The scoring server depends on nothing else being up."""
    world.services.launch(
        "serving",
        promobot_command(
            "serve-models",
            "--port",
            str(world.ports["serving"]),
            "--state",
            str(world.workdir / "serving"),
            "--tracking-uri",
            world.tracking_uri,
        ),
        {},
        f"{world.url('serving')}/healthz",
    )


def launch_mlflow(world: World) -> None:
    """MLflow's server on the database the champion was registered in; it sends webhooks."""
    world.services.launch(
        "mlflow",
        [
            sys.executable,
            "-m",
            "mlflow",
            "server",
            "--backend-store-uri",
            world.database_uri,
            "--artifacts-destination",
            world.artifacts_uri,
            "--host",
            "127.0.0.1",
            "--port",
            str(world.ports["mlflow"]),
            "--workers",
            "1",
        ],
        {
            "MLFLOW_WEBHOOK_ALLOWED_SCHEMES": "http,https",
            "MLFLOW_WEBHOOK_ALLOW_PRIVATE_IPS": "true",
            "MLFLOW_WEBHOOK_SECRET_ENCRYPTION_KEY": Fernet.generate_key().decode(),
            # No job runner: it starts about seven worker processes, each importing MLflow,
            # for server-side jobs the demo never submits (webhooks are sent without it).
            "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
        },
        f"{world.tracking_uri}/health",
    )


def write_app_key(world: World) -> None:
    """A fresh RSA key for the demo's GitHub App."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    world.key_path.write_bytes(pem)


def seed(world: World, content: Path, unrelated: Path) -> dict[str, Any]:
    """The sandbox's users, team, two repositories and the App installed on the organisation,
    whose one webhook delivers every installed repository's events to the bot."""
    return {
        "users": [
            {"login": u, "token": t, "name": u.title(), "email": f"{u}@example.com"}
            for u, t in USERS.items()
        ],
        "orgs": [{"login": ORG, "admins": ["alice"], "members": ["carol"]}],
        "teams": [
            {
                "org": ORG,
                "slug": TEAM,
                "name": "Churn data science",
                "members": ["carol"],
                "maintainers": ["alice"],
                "repositories": {REPO: "write"},
            }
        ],
        "repositories": [
            {
                "full_name": REPO,
                "default_branch": "main",
                "content": str(content),
                "collaborators": {},
            },
            {
                "full_name": UNRELATED_REPO,
                "default_branch": "main",
                "content": str(unrelated),
                "collaborators": {},
            },
        ],
        "apps": [
            {
                "id": APP_ID,
                "slug": "promobot",
                "owner": ORG,
                "private_key": str(world.key_path),
                # On the whole organisation: every repository, this one and any other.
                "installations": [{"id": INSTALLATION_ID, "account": ORG}],
                "permissions": dict(APP_PERMISSIONS),
                "webhook": {
                    "url": f"{world.url('bot')}/webhooks/github",
                    "secret": world.github_secret,
                    "events": list(EVENTS),
                },
            }
        ],
        # GitHub computes `mergeable` in the background; a second is typical.
        "timing": {"mergeability_seconds": 1.0},
    }


def prepare_content(world: World, manifest_text: str, manifest_path: str) -> Path:
    """The repository's first commit: this project's policies and templates, and the v1 manifest."""
    content = world.workdir / "seed-content"
    shutil.copytree(world.repo_root / "policies", content / "policies", dirs_exist_ok=True)
    shutil.copytree(world.repo_root / "templates", content / "templates", dirs_exist_ok=True)
    (content / "README.md").write_text("# acme/models\n\nModel manifests and promotion policies.\n")
    target = content / manifest_path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(manifest_text)
    return content


def prepare_unrelated_content(world: World) -> Path:
    """The unrelated repository's first commit: a README, no `policies/`."""
    content = world.workdir / "seed-unrelated"
    content.mkdir(parents=True, exist_ok=True)
    (content / "README.md").write_text(f"# {UNRELATED_REPO}\n\nThe web application.\n")
    return content


def bot_environment(world: World) -> dict[str, str]:
    """What `promobot serve` reads: GitHub App, MLflow, secrets, CD on push."""
    return {
        "PROMOBOT_GITHUB__BASE_URL": world.github_api,
        # The App's installation is found at run time (`GET /repos/{repo}/installation`, and
        # each delivery names its own). The repository is named because CD on push applies the
        # bot's checkout of it and the board shows it; the App still serves every installed
        # repository that holds policies/ (acme/webapp holds none).
        "PROMOBOT_GITHUB__REPOSITORY": REPO,
        "PROMOBOT_GITHUB__APP_ID": str(APP_ID),
        "PROMOBOT_GITHUB__PRIVATE_KEY_PATH": str(world.key_path),
        "PROMOBOT_GITHUB__BOT_LOGIN": BOT_LOGIN,
        # GitHub asks for a pause between writes; the sandbox does not need one.
        "PROMOBOT_GITHUB__SECONDS_BETWEEN_WRITES": "0",
        "PROMOBOT_GITHUB_WEBHOOK_SECRET": world.github_secret,
        "PROMOBOT_MLFLOW_WEBHOOK_SECRET": world.mlflow_secret,
        "PROMOBOT_STATE_DIR": str(world.workdir / "bot-state"),
        "PROMOBOT_TICK_SECONDS": "5",
        "PROMOBOT_REPO": str(world.workdir / "bot-checkout"),
        "PROMOBOT_DATA_ROOT": str(world.workdir / "data"),
        "PROMOBOT_APPLY_ON_PUSH": "true",
        # Everything listens on loopback: the board may be open.
        "PROMOBOT_BOARD_ENABLED": "true",
        "PROMOBOT_LOCAL_TARGET_URL": world.url("serving"),
        "MLFLOW_TRACKING_URI": world.tracking_uri,
    }


def launch_github_and_bot(world: World, content: Path) -> None:
    """The sandbox GitHub (seeded) and the bot, which needs the sandbox's App."""
    write_app_key(world)
    seed_file = world.workdir / "seed.yaml"
    unrelated = prepare_unrelated_content(world)
    seed_file.write_text(yaml.safe_dump(seed(world, content, unrelated), sort_keys=False))
    world.services.launch(
        "github",
        [
            sys.executable,
            "-m",
            "promobot_sandbox",
            "github",
            "--port",
            str(world.ports["github"]),
            "--data",
            str(world.workdir / "github"),
            "--seed",
            str(seed_file),
        ],
        {},
        f"{world.url('github')}/_sandbox/requests",
    )
    launch_bot(world)


def launch_bot(world: World, name: str = "bot") -> Service:
    """`promobot serve` with the workflows, on the bot's port (`name` names its log)."""
    return world.services.launch(
        name,
        promobot_command(
            "serve",
            "--port",
            str(world.ports["bot"]),
            "--handler",
            "bot.app:build_handler",
        ),
        bot_environment(world),
        f"{world.url('bot')}/healthz",
    )


def clone(world: World, into: Path) -> Path:
    """A plain `git clone` of the sandbox repository, as a person (or the bot's CD) has it."""
    subprocess.run(["git", "clone", "--quiet", str(world.bare_repo()), str(into)], check=True)
    return into
