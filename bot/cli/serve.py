"""`promobot serve`: the webhook service with its workers.

The handler that processes events comes from a factory, `--handler module:function`
(default `bot.server.handlers.DEFAULT_HANDLER_FACTORY`); the option exists for tests and
plug-ins. Settings come from `PROMOBOT_*` variables (`bot.settings`).
"""

from __future__ import annotations

import gc
import logging
import re
import socket
import sys
import threading
from typing import TYPE_CHECKING, Annotated

import typer
import uvicorn

from bot.errors import PromobotError
from bot.server.app import create_app, open_event_store
from bot.server.handlers import DEFAULT_HANDLER_FACTORY, ServiceContext, load_handler_factory
from bot.server.metrics import ServiceMetrics
from bot.settings import Settings, load_settings

if TYPE_CHECKING:
    from bot.board.wiring import ServedBoard


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on; 0 picks a free one.")] = 8080,
    handler: Annotated[
        str,
        typer.Option(help="Handler factory `module:function` (for tests and plug-ins)."),
    ] = DEFAULT_HANDLER_FACTORY,
    workers: Annotated[
        int | None, typer.Option(help="Worker threads (default: PROMOBOT_WORKERS, else 4).")
    ] = None,
    database_url: Annotated[
        str | None,
        typer.Option(
            help="Event store URL (default: PROMOBOT_DATABASE_URL, else SQLite in the state dir)."
        ),
    ] = None,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "info",
    access_log: Annotated[bool, typer.Option(help="Log every HTTP request.")] = False,
) -> None:
    """Receive GitHub, MLflow and Azure webhooks and process them from the event store."""
    logging.basicConfig(
        level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("uvicorn.access").addFilter(QuerySecretMask())
    try:
        settings = load_settings(workers=workers, database_url=database_url)
        factory = load_handler_factory(handler)
        store = open_event_store(settings.service)
    except PromobotError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
    metrics = ServiceMetrics()
    board: ServedBoard | None = None
    try:
        try:
            built = factory(ServiceContext(settings=settings, store=store, metrics=metrics))
        except PromobotError as error:
            typer.echo(f"error: {error}", err=True)
            raise typer.Exit(2) from None
        board = _board(settings)
        readiness = None
        if settings.github is not None:
            from bot.doctor import Readiness  # noqa: PLC0415 - PyGithub only when used

            github = settings.github
            if github.uses_app and github.repository and not github.repositories:
                logging.getLogger(__name__).info(
                    "the App serves every installed repository that holds policies/; "
                    "PROMOBOT_GITHUB__REPOSITORY (%s) is only the default one: set "
                    "PROMOBOT_GITHUB__REPOSITORIES to serve fewer",
                    github.repository,
                )

            readiness = Readiness(settings.github).problems
            # The doctor's findings are logged at start, without delaying the first delivery.
            threading.Thread(target=readiness, name="promobot-doctor", daemon=True).start()
        app = create_app(
            settings.service,
            built,
            store=store,
            metrics=metrics,
            readiness=readiness,
            board=None if board is None else board.router,
        )
        listener = _listen(host, port)
        bound = listener.getsockname()[1]
        # One parseable line, so scripts and tests that pass --port 0 learn the port.
        print(f"promobot serve: listening on http://{host}:{bound}", flush=True)
        if board is not None:
            print(f"promobot serve: the promotion board is at http://{host}:{bound}/", flush=True)
        config = uvicorn.Config(app, log_level=log_level.lower(), access_log=access_log)
        # Everything allocated so far lives as long as the process: keep it out of the
        # garbage collector's full passes, which otherwise pause deliveries for ~50 ms.
        gc.freeze()
        uvicorn.Server(config).run(sockets=[listener])
    finally:
        if board is not None:
            board.close()
        store.close()


def _board(settings: Settings) -> ServedBoard | None:
    """The promotion board when a token guards it or PROMOBOT_BOARD_ENABLED is true; a board
    without a token is logged as open to anyone who reaches the port."""
    from bot.board.wiring import serve_board  # noqa: PLC0415 - only when serving

    if not settings.board.is_served:
        if settings.board.enabled is None:
            logging.getLogger(__name__).info(
                "the promotion board is not served: set PROMOBOT_BOARD_TOKEN, or "
                "PROMOBOT_BOARD_ENABLED=true to serve it open behind your proxy"
            )
        return None
    try:
        board = serve_board(settings)
    except PromobotError as error:
        typer.echo(f"error: the promotion board: {error}", err=True)
        raise typer.Exit(2) from None
    if board is not None and board.is_open:
        logging.getLogger(__name__).warning(
            "the promotion board at / is open to anyone who reaches this port: set "
            "PROMOBOT_BOARD_TOKEN, serve it behind your proxy, or PROMOBOT_BOARD_ENABLED=false"
        )
    return board


class QuerySecretMask(logging.Filter):
    """Hides the `?key=` secret an Event Grid endpoint URL carries from the access log."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Mask the path argument of uvicorn's access log line; keep the record."""
        if isinstance(record.args, tuple) and len(record.args) >= 3:
            args = list(record.args)
            args[2] = mask_query_secrets(str(args[2]))
            record.args = tuple(args)
        return True


def mask_query_secrets(path: str) -> str:
    """`/webhooks/azure?key=s3cret` → `/webhooks/azure?key=***`."""
    return re.sub(r"([?&]key=)[^&]*", r"\1***", path)


def _listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # Name the protocol: asyncio sets TCP_NODELAY only on sockets whose `proto` is TCP;
    # without it every response with a body waits ~40 ms for a delayed ACK.
    listener = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((host, port))
    except OSError as error:
        listener.close()
        typer.echo(f"error: cannot listen on {host}:{port}: {error.strerror}", err=True)
        typer.echo("hint: choose another --port, or 0 for a free one", err=True)
        sys.exit(2)
    listener.listen(2048)
    listener.set_inheritable(True)
    return listener
