"""Who may see the board, and what it never shows: against `promobot serve`'s app, over HTTP."""

from __future__ import annotations

from pathlib import Path

import httpx
from pydantic import SecretStr

from bot.server.settings import ServiceSettings
from bot.settings import Settings
from tests.board.world import BoardWorld, board_app, board_settings
from tests.support.http import LOCAL

TOKEN = "board-token-4f9a1c0e7d"


def guarded_settings(world: BoardWorld, state: Path) -> Settings:
    """The world's board behind TOKEN, its state in `state`."""
    return board_settings(
        world.sandbox, state, world.scoring.url, world.versions.tracking_uri, token=SecretStr(TOKEN)
    )


def test_the_token_is_asked_for_and_the_login_form_sets_a_cookie(
    world: BoardWorld, tmp_path: Path
) -> None:
    """With PROMOBOT_BOARD_TOKEN set, nothing shows without it: 401 with the login form for
    people, 401 JSON for scripts; the bearer header or the form's cookie let them in."""
    settings = guarded_settings(world, tmp_path / "guarded")
    with board_app(settings) as (url, _), httpx.Client(base_url=url) as client:
        page = client.get("/")
        assert page.status_code == 401
        assert 'name="token"' in page.text and 'type="password"' in page.text
        assert page.headers["www-authenticate"].startswith("Bearer")
        assert client.get("/models/churn-classifier").status_code == 401
        refused = client.get("/api/board.json")
        assert refused.status_code == 401
        assert "Bearer" in refused.json()["message"]
        wrong = client.get("/api/board.json", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401

        bearer = client.get("/api/board.json", headers={"Authorization": f"Bearer {TOKEN}"})
        assert bearer.status_code == 200
        assert bearer.json()["repository"] == "acme/models"

        failed = client.post("/login", data={"token": "nope", "next": "/"})
        assert failed.status_code == 401 and "not the board" in failed.text
        assert "promobot_board" not in client.cookies
        signed_in = client.post("/login", data={"token": TOKEN, "next": "/models/fraud-detector"})
        assert signed_in.status_code == 303
        assert signed_in.headers["location"] == "/models/fraud-detector"
        assert TOKEN not in signed_in.headers["set-cookie"]
        assert "HttpOnly" in signed_in.headers["set-cookie"]
        assert client.get("/models/fraud-detector").status_code == 200
        assert client.get("/").status_code == 200


def test_the_login_goes_back_only_to_the_board(world: BoardWorld, tmp_path: Path) -> None:
    """The `next` of the login form is a path of the board, never another site."""
    settings = guarded_settings(world, tmp_path / "guarded")
    with board_app(settings) as (url, _), httpx.Client(base_url=url) as client:
        for target in ("https://evil.example/", "//evil.example/x", "/\\evil.example"):
            answer = client.post("/login", data={"token": TOKEN, "next": target})
            assert answer.headers["location"] == "/", target


def test_no_secret_and_no_local_path_is_ever_shown(world: BoardWorld, tmp_path: Path) -> None:
    """Tokens, webhook secrets, the App's key and paths on the bot's machine stay out of
    every page and every JSON answer, whatever the records and settings hold."""
    settings = guarded_settings(world, tmp_path / "secretive")
    settings = settings.model_copy(
        update={
            "service": ServiceSettings(
                state_dir=tmp_path / "secretive" / "state",
                tick_seconds=0,
                github_webhook_secret=SecretStr("gh-hook-secret-81be"),
                mlflow_webhook_secret=SecretStr("mlflow-hook-secret-2c7d"),
                azure_event_grid_key=SecretStr("event-grid-key-99aa"),
            )
        }
    )
    installation_token = world.forge.fetch_credentials().password.get_secret_value()
    key_line = world.sandbox.app_private_key.splitlines()[1]
    secrets = [
        TOKEN,
        "gh-hook-secret-81be",
        "mlflow-hook-secret-2c7d",
        "event-grid-key-99aa",
        installation_token,
        key_line,
        str(tmp_path),
    ]
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with board_app(settings) as (url, _), httpx.Client(base_url=url, headers=headers) as client:
        paths = ["/", "/api/board.json", "/board.css", "/login", "/models/nothing-here"]
        for model in ("churn-classifier", "fraud-detector", "demand-forecast"):
            paths += [f"/models/{model}", f"/api/models/{model}.json"]
        for path in paths:
            answer = client.get(path)
            assert answer.status_code in (200, 303, 404), (path, answer.status_code)
            for secret in secrets:
                assert secret not in answer.text, (path, secret[:12])
        outside = client.get("/api/models/churn-classifier.json").json()["evaluation"]["data"]
        assert outside is None  # this board's data root is elsewhere: the path is not shown
    inside = LOCAL.get(f"{world.url}/api/models/churn-classifier.json").json()["evaluation"]
    assert inside["data"] == "eval/churn-classifier.parquet"  # relative to the data root
