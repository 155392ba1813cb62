"""The board as the routes use it: reads through a short cache, with the clock at the edge."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable

from bot.board.cache import ReadCache
from bot.board.model_page import read_model_page
from bot.board.reader import BoardRead, BoardSources, read_board
from bot.board.views import Board, ModelPage
from bot.workflows.inputs import utcnow


class BoardService:
    """`board()` and `model(name)`, each read at most once per `cache.ttl_seconds`."""

    def __init__(
        self,
        sources: BoardSources,
        cache_seconds: float,
        *,
        now: Callable[[], dt.datetime] = utcnow,
        clock: Callable[[], float] = time.monotonic,
        close: Callable[[], None] | None = None,
    ) -> None:
        self.sources = sources
        self._now = now
        self._reads: ReadCache[BoardRead] = ReadCache(cache_seconds, clock)
        self._pages: ReadCache[ModelPage | None] = ReadCache(cache_seconds, clock)
        self._close = close

    @property
    def cache_seconds(self) -> float:
        """How long a read is reused."""
        return self._reads.ttl_seconds

    def read(self) -> BoardRead:
        """The board's sources, read at most once per cache period."""
        return self._reads.get("board", lambda: read_board(self.sources, self._now()))

    def board(self) -> Board:
        """Every model in every environment."""
        return self.read().board

    def model(self, name: str) -> ModelPage | None:
        """The page of model `name`; None for a model the board does not show."""
        read = self.read()
        if read.board.row(name) is None:
            return None
        return self._pages.get(
            f"{read.board.read_at.isoformat()}:{name}",
            lambda: read_model_page(self.sources, read, name, self._now()),
        )

    def close(self) -> None:
        """Release the mirror and the adapters."""
        self.sources.mirror.close()
        if self._close is not None:
            self._close()
