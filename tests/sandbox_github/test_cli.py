"""`promobot sandbox github` runs the sandbox as a process, as the demo and users start it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import yaml
from promobot_sandbox.cli import main

from tests.support.http import LOCAL

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
                response = LOCAL.get(
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


def test_cli_reports_a_bad_seed_without_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """In-process (importing the whole CLI in a new interpreter costs seconds)."""
    seed = tmp_path / "seed.yaml"
    seed.write_text("users: [{login: a, tokn: x}]")
    code = main(["github", "--data", str(tmp_path / "d"), "--seed", str(seed)])
    assert code == 2
    error = capsys.readouterr().err
    assert "users.0.tokn" in error
    assert "Traceback" not in error


def test_promobot_sandbox_without_the_distribution_says_how_to_install(tmp_path: Path) -> None:
    """The product wheel holds no sandbox: the command names the distribution to install."""
    blocked = (
        "import sys; sys.modules['promobot_sandbox'] = None; "
        "from bot.cli.main import app; app(['sandbox', 'github', '--data', sys.argv[1]])"
    )
    result = subprocess.run(
        [sys.executable, "-c", blocked, str(tmp_path / "d")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert "promobot-sandbox is not installed" in result.stderr
    assert "pip install ./sandbox" in result.stderr
    assert "Traceback" not in result.stderr
