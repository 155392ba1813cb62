"""One HTTP client for the tests' own calls: the sandboxes' `/_sandbox/…` hooks, health
checks, pages of the board.

httpx's module-level functions (`get`, `post`, …) build a client for every call, and with
it a TLS context (about 20 ms of CPU reading the CA bundle), even for `http://127.0.0.1`;
polling loops made hundreds of them. This client is built once per test process. It
keeps no connections alive, so a server a test stopped leaves nothing behind for the
next test, and its timeout is httpx's default (5 s), as the module-level functions use.
"""

from __future__ import annotations

import httpx

LOCAL = httpx.Client(timeout=5.0, limits=httpx.Limits(max_keepalive_connections=0))
