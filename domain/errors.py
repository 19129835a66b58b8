"""The errors chatledger raises: one tree, rooted at ChatLedgerError.

Each says what was wrong and what to do about it. Nothing else reaches a caller of the public
API: the storage layer's own exceptions (the database driver's, the event store's) arrive as
StorageUnavailable, UnreadableEvent or WriteContention.
"""

from __future__ import annotations

from datetime import datetime

_UNAVAILABLE_ADVICE = "check that it is running and reachable and that the URL is right, then retry"
_VERIFY_ADVICE = "run `chatledger verify` to list every altered, moved or missing row"


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


class MalformedLine(InvalidInput):
    """A line of an import file is not a valid exported message; ``line`` is its number."""

    def __init__(self, line: int, field: str, problem: str) -> None:
        self.line = line
        super().__init__(f"line {line}: {field}", problem)


class AttachmentUnavailable(ChatLedgerError):
    """A rendering needs the bytes of a part stored apart, and was given no way to read them."""

    def __init__(self, position: int, field: str, digest: str) -> None:
        self.position = position
        self.field = field
        self.digest = digest
        super().__init__(
            f"the message at position {position} holds {field} as attachment {digest[:12]}..., "
            "whose bytes the rendering must inline: pass resolve=ledger.attachment_resolver("
            "conversation_id), or read the view with its attachments inlined"
        )


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


class WriteContention(ChatLedgerError):
    """A write kept losing races with other writers and was given up; nothing was written."""

    def __init__(self, target: str) -> None:
        self.target = target
        super().__init__(
            f"the write to {target} kept clashing with other writers' and was given up, "
            "so nothing was written: retry in a moment"
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


class UnknownAttachment(ChatLedgerError, LookupError):
    """A conversation holds no attachment with the digest asked for."""

    def __init__(self, conversation_id: str, digest: str) -> None:
        self.conversation_id = conversation_id
        self.digest = digest
        super().__init__(
            f"conversation {conversation_id!r} holds no attachment with digest {digest}: "
            "take the digest from a part's attachment in the conversation's history"
        )


class ConversationErased(ChatLedgerError):
    """The conversation was erased: its text is gone and nothing more can be recorded in it."""

    def __init__(self, conversation_id: str, erased_at: datetime | None = None) -> None:
        self.conversation_id = conversation_id
        self.erased_at = erased_at
        when = f" at {erased_at.isoformat()}" if erased_at else ""
        super().__init__(
            f"conversation {conversation_id!r} was erased{when}; its content is gone for good: "
            "record into a new conversation to go on"
        )


class HeldByBranch(ChatLedgerError):
    """Erasing the conversation would erase messages a branch on legal hold shares."""

    def __init__(self, conversation_id: str, branch: str, reason: str) -> None:
        self.conversation_id = conversation_id
        self.branch = branch
        self.reason = reason
        super().__init__(
            f"conversation {conversation_id!r} cannot be erased: its branch {branch!r} is on "
            f"legal hold ({reason}) and shares its messages; lift that hold first"
        )


class EncodingUnavailable(ChatLedgerError):
    """What counting tokens needs could not be loaded offline: an encoding file, or Pillow."""


class StorageUnavailable(ChatLedgerError):
    """The database could not be reached or used; ``location`` names it, never its password."""

    def __init__(
        self, backend: str, location: str, cause: str, advice: str = _UNAVAILABLE_ADVICE
    ) -> None:
        self.backend = backend
        self.location = location
        self.cause = cause
        super().__init__(f"the {backend} store at {location} is unavailable ({cause}): {advice}")


class UnreadableEvent(ChatLedgerError):
    """A stored event cannot be read back as chatledger wrote it: altered, moved or lost."""

    def __init__(self, problem: str, advice: str = _VERIFY_ADVICE) -> None:
        self.problem = problem
        super().__init__(f"{problem}; {advice}")


class SealBroken(UnreadableEvent):
    """Stored ciphertext failed authentication: it was altered or moved in the database."""


class UnknownTopic(UnreadableEvent):
    """A stored row names an event type this version of chatledger does not know."""

    def __init__(self, topic: str) -> None:
        self.topic = topic
        super().__init__(
            f"stored event type {topic!r} is unknown to this chatledger",
            "was the database written by a newer version? Upgrade chatledger to read it",
        )


class KeyEncryptionKeyUnavailable(ChatLedgerError):
    """The key-encryption key that wraps the data keys is missing, unreadable or a different one.

    Without it no stored text can be read: the database alone never yields a data key.
    """

    def __init__(self, problem: str, advice: str) -> None:
        self.problem = problem
        super().__init__(f"{problem}: {advice}")


class SummarizerFailed(ChatLedgerError):
    """The summarizer raised, timed out or returned no text: no summary was recorded.

    History and memory are as they were; ``cause`` says what went wrong.
    """

    def __init__(self, conversation_id: str, cause: str) -> None:
        self.conversation_id = conversation_id
        self.cause = cause
        super().__init__(
            f"summarizing conversation {conversation_id!r} failed ({cause}); nothing was "
            "recorded and its history and memory are unchanged: retry, or check the summarizer"
        )


class SummarizerUnavailable(ChatLedgerError):
    """A summarizer cannot be built here: the package it needs is not installed."""
