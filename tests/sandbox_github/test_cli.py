"""`promobot sandbox github` runs the sandbox as a process, as the demo and users start it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import typer
import yaml
from typer.testing import CliRunner

from bot.cli.sandbox_github import sandbox_github

PROMOBOT = str(Path(sys.executable).parent / "promobot")


def test_cli_serves_seeded_state(tmp_path: Path) -> None:
    seed = tmp_path / "seed.yaml"
    seed.write_text(
        yaml.safe_dump(
            {
                "users": [{"login": "ann", "token": "t-ann"}],
                "repositories": [{"full_name": "ann/models"}],
            }
        )
    )
    command = [
        PROMOBOT,
        "sandbox",
        "github",
        "--port",
        "0",
        "--data",
        str(tmp_path / "data"),
        "--seed",
        str(seed),
    ]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ.copy()
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        match = re.search(r"API (http://\S+/api/v3)", line)
        assert match, line + (process.stderr.read() if process.poll() is not None else "")
        api = match.group(1)
        deadline = time.monotonic() + 30
        while True:
            try:
                response = httpx.get(
                    f"{api}/repos/ann/models", headers={"Authorization": "token t-ann"}
                )
                break
            except httpx.ConnectError:
                assert process.poll() is None, process.stderr.read() if process.stderr else ""
                assert time.monotonic() < deadline, "the sandbox did not answer"
        assert response.json()["full_name"] == "ann/models"
    finally:
        process.terminate()
        process.wait(timeout=30)
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


def test_cli_reports_a_bad_seed_without_traceback(tmp_path: Path) -> None:
    """In-process through Typer (importing the whole `promobot` CLI twice costs seconds)."""
    seed = tmp_path / "seed.yaml"
    seed.write_text("users: [{login: a, tokn: x}]")
    cli = typer.Typer()
    cli.command()(sandbox_github)
    result = CliRunner().invoke(cli, ["--data", str(tmp_path / "d"), "--seed", str(seed)])
    assert result.exit_code == 2
    assert "users.0.tokn" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
