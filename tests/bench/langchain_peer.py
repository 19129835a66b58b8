"""The peer users pick instead: LangChain's PostgresChatMessageHistory, then trim_messages."""

# No `from __future__ import annotations` here: trim_messages tells a per-message counter from a
# per-list one by whether its parameter's annotation *is* BaseMessage, which a string is not.

import json
import uuid
from collections.abc import Sequence

import psycopg
import tiktoken
from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
    trim_messages,
)
from langchain_core.messages.tool import tool_call
from langchain_postgres import PostgresChatMessageHistory

from chatledger.domain import Message

TABLE = "bench_langchain_messages"
_ROLES = {"human": "user", "ai": "assistant", "system": "system", "tool": "tool"}


def langchain_message(message: Message) -> BaseMessage:
    """The same message as LangChain represents it."""
    content = message.text or ""
    if message.role == "system":
        return SystemMessage(content=content, id=message.id)
    if message.role == "user":
        return HumanMessage(content=content, id=message.id)
    if message.role == "tool":
        return ToolMessage(content=content, tool_call_id=message.tool_call_id or "", id=message.id)
    calls = [
        tool_call(name=call.name, args=json.loads(call.arguments or "{}"), id=call.id)
        for call in message.tool_calls
    ]
    return AIMessage(content=content, tool_calls=calls, id=message.id)


class TiktokenMessageCounter:
    """Counts one LangChain message the way OpenAI's cookbook does, with the given encoding."""

    def __init__(self, encoding: tiktoken.Encoding) -> None:
        self._encoding = encoding

    def _length(self, text: str) -> int:
        return len(self._encoding.encode(text, disallowed_special=()))

    def __call__(self, message: BaseMessage) -> int:
        tokens = 3 + self._length(_ROLES.get(message.type, message.type))
        if isinstance(message.content, str):
            tokens += self._length(message.content)
        if message.name:
            tokens += self._length(message.name) + 1
        if isinstance(message, ToolMessage):
            tokens += self._length(message.tool_call_id)
        if isinstance(message, AIMessage):
            for call in message.tool_calls:
                tokens += 3 + self._length(call["name"]) + self._length(json.dumps(call["args"]))
        return tokens


def create_table(conn: psycopg.Connection[tuple[object, ...]]) -> None:
    """LangChain's own table and index, created the way its docs show."""
    PostgresChatMessageHistory.create_tables(conn, TABLE)


class LangChainConversation:
    """One conversation in LangChain's table, read the only way its API allows: whole."""

    def __init__(
        self,
        conn: psycopg.Connection[tuple[object, ...]],
        conversation_id: str,
        counter: TiktokenMessageCounter,
    ) -> None:
        session = str(uuid.uuid5(uuid.NAMESPACE_URL, f"chatledger-bench/{conversation_id}"))
        self.history = PostgresChatMessageHistory(TABLE, session, sync_connection=conn)
        self._counter = counter

    def add(self, messages: Sequence[BaseMessage]) -> None:
        """Append messages in one call (one transaction)."""
        self.history.add_messages(messages)

    def memory(self, max_tokens: int) -> list[BaseMessage]:
        """Read every message, then keep the newest that fit, as LangChain's docs advise."""
        return trim_messages(
            self.history.messages,
            max_tokens=max_tokens,
            token_counter=self._counter,
            strategy="last",
            start_on="human",
            include_system=True,
            allow_partial=False,
        )

    def newest(self, count: int) -> list[BaseMessage]:
        """The newest ``count`` messages: the whole history read, then sliced."""
        return self.history.messages[-count:]
