"""`promobot serve` serves the board at `/`, and not when PROMOBOT_BOARD_ENABLED is false."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.cd.support import GitOpsRepo
from tests.support.http import LOCAL

LISTENING = re.compile(r"listening on (http://\S+)")


@contextmanager
def promobot_serve(tmp_path: Path, **variables: str) -> Iterator[tuple[str, str]]:
    """`promobot serve --port 0` with the logging handler; (its URL, what it printed)."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("PROMOBOT_")},
        "HOME": str(tmp_path),
        "PROMOBOT_STATE_DIR": str(tmp_path / "state"),
        "PROMOBOT_TICK_SECONDS": "0",
        **variables,
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bot",
            "serve",
            "--port",
            "0",
            "--handler",
            "bot.server.handlers:build_logging_handler",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    try:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            found = LISTENING.search(line)
            if found:
                break
        else:
            raise AssertionError("promobot serve stopped:\n" + "".join(lines))
        served = variables.get("PROMOBOT_BOARD_ENABLED") == "true" or (
            "PROMOBOT_BOARD_TOKEN" in variables
            and variables.get("PROMOBOT_BOARD_ENABLED") != "false"
        )
        board = process.stdout.readline() if served else ""
        yield found.group(1), "".join(lines) + board
    finally:
        process.terminate()
        process.wait(20)
        if process.stdout is not None:
            process.stdout.close()


def test_serve_shows_the_board_of_its_checkout(tmp_path: Path) -> None:
    """Without GitHub, the board still shows what the checkout's manifests say (and that
    it cannot reach the target), and `promobot serve` prints where the board is."""
    repo = GitOpsRepo(tmp_path / "checkout")
    repo.write_manifest("churn", "3")
    repo.commit("first manifest")
    with promobot_serve(
        tmp_path,
        PROMOBOT_REPO=str(repo.path),
        PROMOBOT_LOCAL_TARGET_URL="http://127.0.0.1:9",
        PROMOBOT_BOARD_ENABLED="true",
    ) as (url, printed):
        assert f"the promotion board is at {url}/" in printed
        board = LOCAL.get(f"{url}/api/board.json", timeout=30).json()
        (row,) = board["rows"]
        (cell,) = row["cells"]
        assert (row["model"], cell["wanted"], cell["status"]) == ("churn", "3", "unknown")
        assert "scoring server" in cell["detail"]
        assert LOCAL.get(url + "/", timeout=30).status_code == 200


def test_without_a_token_the_board_is_served_only_when_enabled(tmp_path: Path) -> None:
    """The board shares its port with the webhooks, which GitHub must reach: without
    PROMOBOT_BOARD_TOKEN it is served only with PROMOBOT_BOARD_ENABLED=true."""
    with promobot_serve(tmp_path) as (url, printed):
        assert "the promotion board is at" not in printed
        assert "the promotion board is not served: set PROMOBOT_BOARD_TOKEN" in printed
        assert LOCAL.get(url + "/", timeout=30).status_code == 404
        assert LOCAL.get(url + "/api/board.json", timeout=30).status_code == 404
        assert LOCAL.get(url + "/healthz", timeout=30).status_code == 200


def test_serve_without_the_board(tmp_path: Path) -> None:
    """PROMOBOT_BOARD_ENABLED=false leaves only the webhooks and health routes."""
    with promobot_serve(tmp_path, PROMOBOT_BOARD_ENABLED="false") as (url, printed):
        assert "promotion board" not in printed
        assert LOCAL.get(url + "/", timeout=30).status_code == 404
        assert LOCAL.get(url + "/healthz", timeout=30).status_code == 200


def test_a_fetch_that_fails_shows_no_local_path(tmp_path: Path) -> None:
    """git's message names local paths: the page says what failed in fixed words, and the
    service log keeps git's message."""
    hidden = tmp_path / "private-place" / "repo.git"
    with promobot_serve(
        tmp_path,
        PROMOBOT_BOARD_ENABLED="true",
        PROMOBOT_BOARD_GIT_URL=str(hidden),
        PROMOBOT_REPO=str(tmp_path / "no-checkout"),
    ) as (url, _printed):
        answer = LOCAL.get(f"{url}/api/board.json", timeout=30)
        page = LOCAL.get(url + "/", timeout=30).text
    assert answer.status_code == 200
    problems = answer.json()["problems"]
    assert any("could not fetch" in problem for problem in problems), problems
    for shown in (answer.text, page):
        assert "private-place" not in shown and str(tmp_path) not in shown
