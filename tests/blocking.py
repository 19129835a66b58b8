"""An AsyncChatLedger driven from synchronous test code, so the contract suites run on it too.

Each awaitable method is run to completion on an event loop of the adapter's own, in a thread
of its own: the test calls it as it would call ChatLedger's, and gets what the awaited call
returned or raised.
"""

from __future__ import annotations

import asyncio
import inspect
import threading
from collections.abc import Callable
from typing import Any

from chatledger.infrastructure import AsyncChatLedger


class BlockingAsyncLedger:
    """ChatLedger's interface over an AsyncChatLedger: every coroutine awaited on its loop."""

    def __init__(self, opening: Callable[[], Any]) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self.ledger: AsyncChatLedger = self._await(opening())

    def _await(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=120)

    def __getattr__(self, name: str) -> Any:
        if not hasattr(self.ledger, name):
            return getattr(self.ledger.sync, name)  # what only the sync ledger has
        attribute = getattr(self.ledger, name)
        if inspect.iscoroutinefunction(attribute):
            return lambda *args, **kwargs: self._await(attribute(*args, **kwargs))
        return attribute

    def close(self) -> None:
        """Close the async ledger, then stop its loop."""
        try:
            self._await(self.ledger.close())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
            self._loop.close()
