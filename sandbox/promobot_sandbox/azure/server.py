"""Run the sandbox Azure with uvicorn: in a background thread (tests) or in the foreground (CLI)."""

from __future__ import annotations

import signal
import threading
import time
from types import TracebackType

import uvicorn

from promobot_sandbox.azure.app import Sandbox, create_app
from promobot_sandbox.azure.config import SandboxAzureConfig


class SandboxAzureServer:
    """The sandbox on a loopback port; use as a context manager, or `start`/`stop`."""

    def __init__(self, config: SandboxAzureConfig, port: int = 0, host: str = "127.0.0.1") -> None:
        self.config = config
        self.sandbox: Sandbox = create_app(config)
        self._host = host
        self._server = uvicorn.Server(
            uvicorn.Config(
                self.sandbox.app, host=host, port=port, log_level="warning", lifespan="off"
            )
        )
        self._thread = threading.Thread(target=self._server.run, name="sandbox-azure", daemon=True)
        self.port = port

    @property
    def base_url(self) -> str:
        """`http://127.0.0.1:PORT`, without a trailing slash."""
        return f"http://{self._host}:{self.port}"

    def start(self, timeout: float = 20.0) -> SandboxAzureServer:
        """Start serving and wait until the socket listens."""
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the sandbox Azure did not start; is the port free?")
            time.sleep(0.01)
        sockets = self._server.servers[0].sockets
        self.port = int(sockets[0].getsockname()[1])
        return self

    def stop(self) -> None:
        """Stop serving and wait for the thread."""
        self._server.should_exit = True
        self._thread.join(timeout=10)

    def __enter__(self) -> SandboxAzureServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def settings_lines(config: SandboxAzureConfig, base_url: str) -> list[str]:
    """Environment variables that point promobot at this sandbox."""
    return [
        f"PROMOBOT_AZURE_BASE_URL={base_url}",
        f"PROMOBOT_AZURE_SUBSCRIPTION_ID={config.subscription_id}",
        f"PROMOBOT_AZURE_RESOURCE_GROUP={config.resource_group}",
        f"PROMOBOT_AZURE_WORKSPACE={config.workspace}",
        f"PROMOBOT_AZURE_TOKEN={config.arm_token}",
        f"PROMOBOT_AZURE_DEVOPS_ORG_URL={base_url}/{config.devops_organization}",
        f"PROMOBOT_AZURE_DEVOPS_TOKEN={config.devops_pat}",
    ]


def serve_forever(config: SandboxAzureConfig, host: str, port: int) -> None:
    """Serve until interrupted (Ctrl-C or SIGTERM), printing where and how to connect."""
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda _signum, _frame: stop.set())
    server = SandboxAzureServer(config, port=port, host=host).start()
    try:
        print(f"sandbox Azure listening on {server.base_url}", flush=True)
        print(f"state in {config.data_dir}; MLflow runs in {config.tracking_uri}", flush=True)
        for line in settings_lines(config, server.base_url):
            print(f"  export {line}", flush=True)
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
        signal.signal(signal.SIGTERM, previous)
