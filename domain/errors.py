"""The errors chatledger raises: one tree, rooted at ChatLedgerError."""

from __future__ import annotations


class ChatLedgerError(Exception):
    """Base of every error chatledger raises on purpose."""


class InvalidInput(ChatLedgerError, ValueError):
    """Input was rejected before anything was written; ``field`` names what was wrong."""

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(f"{field}: {problem}")


class InvalidMessage(InvalidInput):
    """A message was rejected; ``field`` names the offending field (e.g. ``tool_calls.0.name``)."""


class InvalidConversationId(InvalidInput):
    """A conversation id was rejected."""

    def __init__(self, problem: str) -> None:
        super().__init__("conversation_id", problem)


class ConcurrencyConflict(ChatLedgerError):
    """Another writer changed the conversation since the version the caller expected."""

    def __init__(self, conversation_id: str, expected: int, actual: int) -> None:
        self.conversation_id = conversation_id
        self.expected = expected
        self.actual = actual
        super().__init__(
            f"conversation {conversation_id!r} is at version {actual}, not the expected "
            f"{expected}: another writer got there first; read it again and retry"
        )


class IdempotencyConflict(ChatLedgerError):
    """A message id was reused with different content."""

    def __init__(self, conversation_id: str, message_id: str, position: int) -> None:
        self.conversation_id = conversation_id
        self.message_id = message_id
        self.position = position
        super().__init__(
            f"message id {message_id!r} was already recorded in conversation "
            f"{conversation_id!r} at position {position} with different content; "
            "give the new message a new id"
        )


class UnknownConversation(ChatLedgerError, LookupError):
    """An operation needs a conversation that has never been recorded."""

    def __init__(self, conversation_id: str) -> None:
        self.conversation_id = conversation_id
        super().__init__(f"conversation {conversation_id!r} has no recorded messages")


class EncodingUnavailable(ChatLedgerError):
    """A tokenizer encoding could not be loaded offline."""
