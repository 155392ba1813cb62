"""Running the scoring server: in the foreground for the CLI, or in a thread for tests and demos.

The listening socket is bound before uvicorn starts, so port 0 works and the
real address is known before the first request.
"""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import uvicorn
from fastapi import FastAPI

from bot.errors import PromobotError
from bot.serving.app import create_app
from bot.serving.service import ScoringService

_BACKLOG = 2048


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket; port 0 picks a free one.

    The protocol is named explicitly: asyncio turns Nagle's algorithm off only on
    connections whose socket says IPPROTO_TCP, and with Nagle on, every response
    written in two parts waits ~40 ms for the client's delayed ACK.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(_BACKLOG)
    except OSError:
        sock.close()
        raise
    return sock


def url_of(sock: socket.socket) -> str:
    """`http://host:port` of a bound socket."""
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def build_server(app: FastAPI) -> uvicorn.Server:
    """A quiet uvicorn server for `app`."""
    config = uvicorn.Config(
        app, log_level="warning", access_log=False, lifespan="on", timeout_graceful_shutdown=5
    )
    return uvicorn.Server(config)


@dataclass
class RunningServer:
    """A scoring server running in a background thread of this process."""

    url: str
    service: ScoringService
    _server: uvicorn.Server
    _thread: threading.Thread

    def stop(self, timeout: float = 15.0) -> None:
        """Shut down gracefully and wait for the thread."""
        self._server.should_exit = True
        self._thread.join(timeout)


def start_in_thread(
    *,
    state_dir: Path | None = None,
    tracking_uri: str | None = None,
    environment: str = "production",
    host: str = "127.0.0.1",
    port: int = 0,
    startup_timeout: float = 120.0,
) -> RunningServer:
    """Restore the state, start a server in a thread, and return once it accepts requests."""
    service = ScoringService(
        state_dir=state_dir, tracking_uri=tracking_uri, environment=environment
    )
    service.restore()
    server = build_server(create_app(service))
    sock = bind(host, port)
    url = url_of(sock)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="promobot-serving", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + startup_timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            sock.close()
            raise PromobotError(
                f"the scoring server on {url} did not start within {startup_timeout} s",
                hint="see the server's log lines above",
            )
        thread.join(0.02)
    return RunningServer(url=url, service=service, _server=server, _thread=thread)
