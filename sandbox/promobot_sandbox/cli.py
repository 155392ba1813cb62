"""`promobot-sandbox github|azure …`: run a stand-in in the foreground.

`promobot sandbox …` hands its arguments here when this distribution is installed.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from promobot_sandbox.errors import SeedError


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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse `argv`, serve until interrupted; 2 for a bad seed or a port in use."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "github":
            from promobot_sandbox.github.server import serve_forever  # noqa: PLC0415

            serve_forever(args.data, args.host, args.port, args.seed)
        else:
            from promobot_sandbox.azure.config import SandboxAzureConfig  # noqa: PLC0415
            from promobot_sandbox.azure.server import serve_forever as serve_azure  # noqa: PLC0415

            config = SandboxAzureConfig(
                data_dir=args.data,
                mlflow_tracking_uri=args.mlflow_tracking_uri,
                operation_seconds=args.operation_seconds,
                pipeline_seconds=args.pipeline_seconds,
            )
            serve_azure(config, args.host, args.port)
    except SeedError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except (OSError, RuntimeError) as error:
        print(f"error: cannot serve on {args.host}:{args.port}: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        pass
    return 0
