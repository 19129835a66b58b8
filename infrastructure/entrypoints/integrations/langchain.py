"""LangChain's chat message history, backed by a ledger conversation: ``ChatLedgerHistory``.

``pip install 'chatledger[langchain]'``. langchain-core 1.x marks ``BaseChatMessageHistory``
and ``RunnableWithMessageHistory`` deprecated (to be removed in 2.0, for LangGraph's
persistence) but ships and runs both: building a ``RunnableWithMessageHistory`` warns so,
building a ``ChatLedgerHistory`` does not. The conversion: ``langchain_messages``.
"""

from __future__ import annotations

from collections.abc import Sequence

from chatledger.integrations import needs

with needs("langchain"):
    from langchain_core.chat_history import BaseChatMessageHistory
    from langchain_core.messages import BaseMessage

from chatledger import AsyncChatLedger, ChatLedger, InvalidInput, MessageWindow, Policy
from chatledger.domain import check_conversation_id, limits
from chatledger.integrations.langchain_messages import to_langchain, to_ledger

__all__ = ["ChatLedgerHistory", "WHOLE_MEMORY", "to_langchain", "to_ledger"]

WHOLE_MEMORY = MessageWindow(max_messages=limits.MAX_POSITION)
"""The default policy: every message since the last clear. No conversation holds more than
``MAX_POSITION`` messages; the memory rules still apply (the current system prompt first,
orphan results and unanswered calls left out)."""


class ChatLedgerHistory(BaseChatMessageHistory):
    """A LangChain chat history whose messages are a ledger conversation's.

    ``messages`` is the conversation's memory view under ``policy`` (by default everything
    since the last clear); ``add_messages`` records a batch atomically; ``clear`` empties the
    memory and keeps the history. With a ``ChatLedger``, the ``a``-methods run the sync ones in
    LangChain's executor; with an ``AsyncChatLedger`` they await it natively, and the sync
    methods call the synchronous ledger underneath it (``AsyncChatLedger.sync``), which blocks
    the calling thread as any synchronous store does.
    """

    def __init__(
        self,
        ledger: ChatLedger | AsyncChatLedger,
        conversation_id: str,
        policy: Policy | None = None,
    ) -> None:
        super().__init__()
        if not isinstance(ledger, ChatLedger | AsyncChatLedger):
            raise InvalidInput(
                "ledger", f"must be a ChatLedger or an AsyncChatLedger, got {type(ledger).__name__}"
            )
        self.ledger = ledger
        self.conversation_id = check_conversation_id(conversation_id)
        self.policy: Policy = WHOLE_MEMORY if policy is None else policy

    @property
    def _sync(self) -> ChatLedger:
        return self.ledger.sync if isinstance(self.ledger, AsyncChatLedger) else self.ledger

    @property
    def messages(self) -> list[BaseMessage]:  # type: ignore[override]  # LangChain declares an attribute; stores read it
        """The memory view under the history's policy, as LangChain messages."""
        view = self._sync.memory(self.conversation_id, self.policy)
        return [to_langchain(message) for message in view.messages]

    def add_messages(self, messages: Sequence[BaseMessage]) -> None:
        """Record the messages as one atomic batch; those already recorded (by id) add nothing.

        Raises InvalidMessage naming the field before anything is recorded.
        """
        converted = [to_ledger(message) for message in messages]
        if converted:
            self._sync.record(self.conversation_id, converted)

    def clear(self) -> None:
        """Empty the memory from here on; the history keeps every message."""
        self._sync.clear(self.conversation_id)

    async def aget_messages(self) -> list[BaseMessage]:
        """The memory view, as ``messages``, without blocking the event loop."""
        if not isinstance(self.ledger, AsyncChatLedger):
            return await super().aget_messages()
        view = await self.ledger.memory(self.conversation_id, self.policy)
        return [to_langchain(message) for message in view.messages]

    async def aadd_messages(self, messages: Sequence[BaseMessage]) -> None:
        """Record the messages as one atomic batch, as ``add_messages``."""
        if not isinstance(self.ledger, AsyncChatLedger):
            await super().aadd_messages(messages)
            return
        converted = [to_ledger(message) for message in messages]
        if converted:
            await self.ledger.record(self.conversation_id, converted)

    async def aclear(self) -> None:
        """Empty the memory from here on, as ``clear``."""
        if not isinstance(self.ledger, AsyncChatLedger):
            await super().aclear()
            return
        await self.ledger.clear(self.conversation_id)
