"""Run the sandbox: in a background thread (tests, the demo) or in the foreground (CLI)."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import uvicorn
from fastapi import FastAPI

from promobot_sandbox.github.app import API_PREFIX, create_app
from promobot_sandbox.github.githooks import install_hooks
from promobot_sandbox.github.sandbox import Checks, Sandbox
from promobot_sandbox.github.seed import apply_seed, load_seed


def prepare(data_dir: Path, seed: Path | None, checks: Checks | None = None) -> FastAPI:
    """The app over `data_dir`, with the seed applied (only what is missing)."""
    app = create_app(data_dir, checks=checks)
    sandbox: Sandbox = app.state.sandbox
    if seed is not None:
        apply_seed(sandbox, load_seed(seed), seed.resolve().parent)
    for repo in sandbox.store.find("repo"):
        path = sandbox.repo_path(repo["full_name"])
        if path.exists():
            install_hooks(sandbox, path)
    return app


def bind(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted connections inherit it: without it every response waits ~40 ms for the
    # client's delayed ACK (uvicorn writes headers and body separately).
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.listen(128)
    return sock


class SandboxServer:
    """The sandbox listening on a loopback port in a background thread.

    `url` is the web root (pages, `/_sandbox/...`); `api_url` is what PyGithub takes
    as `base_url`.
    """

    def __init__(self, app: FastAPI, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app = app
        self.sandbox: Sandbox = app.state.sandbox
        self._socket = bind(host, port)
        bound_port = self._socket.getsockname()[1]
        self.url = f"http://{host}:{bound_port}"
        self.api_url = self.url + API_PREFIX
        config = uvicorn.Config(app, log_level="warning", lifespan="on", access_log=False)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._run, name="sandbox-github", daemon=True)

    def _run(self) -> None:
        self._server.run(sockets=[self._socket])

    def start(self, timeout: float = 20.0) -> SandboxServer:
        write_endpoint(self.sandbox.data_dir, self.url)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the sandbox GitHub did not start on {self.url}")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=20)
        self._socket.close()

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()


def write_endpoint(data_dir: Path, url: str) -> None:
    """Where the post-receive hooks report pushes to (read on every push)."""
    (data_dir / "endpoint").write_text(url + "\n")


def serve_forever(data_dir: Path, host: str, port: int, seed: Path | None) -> None:
    app = prepare(data_dir, seed)
    sock = bind(host, port)
    url = f"http://{host}:{sock.getsockname()[1]}"
    write_endpoint(data_dir, url)
    print(
        f"sandbox GitHub: API {url}{API_PREFIX} (PyGithub base_url), pages {url}, data {data_dir}",
        flush=True,
    )
    # On SIGTERM, requests still open after 2 s are cut: a stand-in has nothing to finish.
    config = uvicorn.Config(app, log_level="warning", lifespan="on", timeout_graceful_shutdown=2)
    uvicorn.Server(config).run(sockets=[sock])
