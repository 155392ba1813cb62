"""Headless Chromium driven over the DevTools protocol, for the board's browser tests.

Debian's `chromium` (installed by `.ci/setup`) starts with `--remote-debugging-port=0` and
writes the port it chose to `DevToolsActivePort` in its profile folder; the tests talk to
it over a WebSocket (aiohttp's client, which MLflow already brings). Every console
message, uncaught exception and browser log entry is kept, so a test can assert that a
page loaded without errors.
https://chromedevtools.github.io/devtools-protocol/
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.support.http import LOCAL

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
START_TIMEOUT = 30.0
CALL_TIMEOUT = 30.0


def chromium_path() -> str:
    """The Chromium executable; a test that needs it fails with how to install it."""
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    pytest.fail("Chromium is missing: run `bash .ci/setup` (it installs Debian's chromium)")


@dataclass
class Problem:
    """A console error, an uncaught exception or a browser log error of a page."""

    source: str
    text: str


@dataclass
class Page:
    """One tab: navigate, evaluate JavaScript in it, take screenshots."""

    browser: Chromium
    session: str
    problems: list[Problem] = field(default_factory=list)

    def call(self, method: str, **params: Any) -> Any:
        """A DevTools command on this tab; its result."""
        return self.browser.call(method, params, self.session)

    def open(self, url: str, width: int = 1280, height: int = 900) -> None:
        """Load `url` at `width` CSS pixels and wait for its load event."""
        self.call(
            "Emulation.setDeviceMetricsOverride",
            width=width,
            height=height,
            deviceScaleFactor=1,
            mobile=width < 600,
        )
        self.browser.clear_events(self.session, "Page.loadEventFired")
        answer = self.call("Page.navigate", url=url)
        if answer.get("errorText"):
            raise AssertionError(f"Chromium could not load {url}: {answer['errorText']}")
        self.browser.wait_event(self.session, "Page.loadEventFired", CALL_TIMEOUT)

    def evaluate(self, expression: str) -> Any:
        """The JSON value of `expression`, evaluated in the page."""
        answer = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in answer:
            raise AssertionError(f"{expression!r} failed: {answer['exceptionDetails']}")
        return answer["result"].get("value")

    def text(self, selector: str) -> str:
        """The visible text of the first element matching `selector`."""
        found = self.evaluate(f"document.querySelector({json.dumps(selector)})?.innerText")
        assert found is not None, f"nothing matches {selector!r}"
        return str(found)

    def screenshot(self, path: Path) -> Path:
        """A PNG of the whole page (beyond the window) at the width it was opened at."""
        data = self.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        path.write_bytes(base64.b64decode(data["data"]))
        return path

    def errors(self) -> list[Problem]:
        """What went wrong in the page so far."""
        self.browser.drain(self.session, self)
        return list(self.problems)


class Chromium:
    """A headless Chromium of its own profile under `folder`; `close()` stops it."""

    def __init__(self, folder: Path) -> None:
        profile = folder / "chromium-profile"
        profile.mkdir(parents=True, exist_ok=True)
        self._process = subprocess.Popen(
            [
                chromium_path(),
                "--headless=new",
                "--remote-debugging-port=0",
                f"--user-data-dir={profile}",
                "--no-sandbox",  # CI runs as root, where Chromium's sandbox cannot start
                "--disable-gpu",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-extensions",
                "--disable-background-networking",
                "--hide-scrollbars",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        port = _devtools_port(profile / "DevToolsActivePort", self._process)
        version = LOCAL.get(f"http://127.0.0.1:{port}/json/version", timeout=10).json()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._events: dict[str, list[dict[str, Any]]] = {}
        self._arrived = threading.Condition()
        self._run(self._connect(version["webSocketDebuggerUrl"]))

    def _run(self, coroutine: Any, timeout: float = CALL_TIMEOUT) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    async def _connect(self, url: str) -> None:
        self._http = aiohttp.ClientSession()
        self._socket = await self._http.ws_connect(url, max_msg_size=0)
        self._reader = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        async for message in self._socket:
            if message.type is not aiohttp.WSMsgType.TEXT:
                continue
            data = json.loads(message.data)
            if "id" in data:
                future = self._pending.pop(data["id"], None)
                if future is not None and not future.done():
                    future.set_result(data)
                continue
            with self._arrived:
                self._events.setdefault(data.get("sessionId", ""), []).append(data)
                self._arrived.notify_all()

    async def _send(self, method: str, params: dict[str, Any], session: str | None) -> Any:
        number = next(self._ids)
        future: asyncio.Future[Any] = self._loop.create_future()
        self._pending[number] = future
        message: dict[str, Any] = {"id": number, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        await self._socket.send_str(json.dumps(message))
        return await future

    def call(self, method: str, params: dict[str, Any], session: str | None = None) -> Any:
        """A DevTools command (on a tab's `session`); its result, or an AssertionError."""
        answer = self._run(self._send(method, params, session))
        if "error" in answer:
            raise AssertionError(f"DevTools {method}: {answer['error']}")
        return answer.get("result", {})

    def new_page(self) -> Page:
        """A fresh tab with console, exception and log reporting on."""
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})
        page = Page(self, session["sessionId"])
        for domain in ("Page", "Runtime", "Log"):
            page.call(f"{domain}.enable")
        return page

    def clear_events(self, session: str, method: str) -> None:
        """Forget the events `method` of a tab that arrived so far (keep the others)."""
        with self._arrived:
            events = self._events.get(session, [])
            self._events[session] = [e for e in events if e.get("method") != method]

    def wait_event(self, session: str, method: str, timeout: float) -> dict[str, Any]:
        """The first event `method` of a tab, waiting for it at most `timeout` seconds."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while True:
                for event in self._events.get(session, []):
                    if event.get("method") == method:
                        return event
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"no {method} within {timeout} s")
                self._arrived.wait(remaining)

    def drain(self, session: str, page: Page) -> None:
        """Move a tab's console errors, exceptions and error log entries to `page.problems`."""
        with self._arrived:
            events = self._events.get(session, [])
            self._events[session] = []
        for event in events:
            problem = _problem(event)
            if problem is not None:
                page.problems.append(problem)

    def close(self) -> None:
        """Stop Chromium and the connection."""
        try:
            self._run(self._close_socket(), timeout=10)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
            self._loop.close()
            self._process.terminate()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(10)

    async def _close_socket(self) -> None:
        await self._socket.close()
        await self._http.close()
        self._reader.cancel()


def _problem(event: dict[str, Any]) -> Problem | None:
    method, params = event.get("method"), event.get("params", {})
    if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
        text = " ".join(str(a.get("value", a.get("description", ""))) for a in params["args"])
        return Problem("console", text)
    if method == "Runtime.exceptionThrown":
        return Problem("exception", str(params["exceptionDetails"].get("text")))
    if method == "Log.entryAdded" and params["entry"].get("level") == "error":
        entry = params["entry"]
        return Problem(f"log:{entry.get('source')}", f"{entry.get('text')} {entry.get('url', '')}")
    return None


def _devtools_port(marker: Path, process: subprocess.Popen[bytes]) -> int:
    """The port Chromium wrote to `DevToolsActivePort` (its first line)."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"Chromium exited at start with status {process.returncode}")
        if marker.is_file():
            first = marker.read_text().split("\n", 1)[0].strip()
            if first.isdigit():
                return int(first)
        time.sleep(0.05)
    raise AssertionError(f"Chromium wrote no DevTools port within {START_TIMEOUT} s")
