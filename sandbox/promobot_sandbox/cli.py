"""`promobot-sandbox github|azure …`: run a stand-in in the foreground.

`promobot sandbox …` hands its arguments here when this distribution is installed.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from promobot_sandbox.errors import SeedError

if TYPE_CHECKING:
    from promobot_sandbox.azure.config import SandboxAzureConfig


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="promobot-sandbox", description="Local stand-ins of GitHub and Azure."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="github|azure")

    github = commands.add_parser(
        "github",
        help="GitHub's REST API (the part promobot uses) over real bare git repositories.",
    )
    github.add_argument(
        "--data", type=Path, required=True, help="Folder holding the state (created if missing)."
    )
    github.add_argument("--port", type=int, default=0, help="Port to listen on (0: a free one).")
    github.add_argument(
        "--seed", type=Path, default=None, help="Seed YAML: users, orgs, teams, repositories, apps."
    )
    github.add_argument("--host", default="127.0.0.1", help="Address to bind.")

    azure = commands.add_parser(
        "azure", help="The Azure ML and Azure DevOps REST calls promobot makes."
    )
    azure.add_argument(
        "--data", type=Path, required=True, help="Folder holding the state (created if missing)."
    )
    azure.add_argument("--port", type=int, default=0, help="Port to listen on (0: a free one).")
    azure.add_argument("--host", default="127.0.0.1", help="Address to bind.")
    azure.add_argument(
        "--mlflow-tracking-uri",
        default=None,
        help="MLflow store with the runs behind registered models (default DATA/mlflow.db).",
    )
    azure.add_argument(
        "--operation-seconds",
        type=float,
        default=2.0,
        help="How long a long-running operation takes.",
    )
    azure.add_argument(
        "--pipeline-seconds",
        type=float,
        default=3.0,
        help="How long an Azure DevOps pipeline run takes.",
    )
    azure.add_argument(
        "--clock-factor",
        type=float,
        default=1.0,
        help="Sandbox seconds per wall-clock second (600: ten minutes pass in one second).",
    )
    azure.add_argument(
        "--seed",
        type=Path,
        default=None,
        help="Seed YAML or JSON: identities, pipelines, quota, names taken, no-code rules.",
    )
    return parser


def _azure_config(args: argparse.Namespace) -> SandboxAzureConfig:
    """The sandbox Azure's config from the command line; `SeedError` for a bad seed file."""
    import yaml  # noqa: PLC0415
    from pydantic import ValidationError  # noqa: PLC0415

    from promobot_sandbox.azure.config import SandboxAzureConfig  # noqa: PLC0415

    seed: Any = {}
    if args.seed is not None:
        try:
            seed = yaml.safe_load(args.seed.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as error:
            raise SeedError(f"cannot read the seed {args.seed}: {error}") from error
    try:
        return SandboxAzureConfig.model_validate(
            {
                "data_dir": args.data,
                "mlflow_tracking_uri": args.mlflow_tracking_uri,
                "operation_seconds": args.operation_seconds,
                "pipeline_seconds": args.pipeline_seconds,
                "clock_factor": args.clock_factor,
                "seed": seed,
            }
        )
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors()
        )
        raise SeedError(
            f"invalid sandbox Azure settings: {problems}",
            hint="see sandbox/README.md, 'Config and seed'",
        ) from error


def main(argv: Sequence[str] | None = None) -> int:
    """Parse `argv`, serve until interrupted; 2 for a bad seed or a port in use."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "github":
            from promobot_sandbox.github.server import serve_forever  # noqa: PLC0415

            serve_forever(args.data, args.host, args.port, args.seed)
        else:
            from promobot_sandbox.azure.server import serve_forever as serve_azure  # noqa: PLC0415

            serve_azure(_azure_config(args), args.host, args.port)
    except SeedError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except (OSError, RuntimeError) as error:
        print(f"error: cannot serve on {args.host}:{args.port}: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        pass
    return 0
