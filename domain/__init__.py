"""What a conversation is: messages, the Conversation aggregate and its events, errors, ports."""

from chatledger.domain.audit import Governance, ModelCallLog, Usage
from chatledger.domain.conversation import (
    Conversation,
    DomainEvent,
    MessageKey,
    project_conversation,
    project_message_key,
    utc_now,
)
from chatledger.domain.errors import (
    ChatLedgerError,
    ConcurrencyConflict,
    ConversationErased,
    EncodingUnavailable,
    IdempotencyConflict,
    InvalidConversationId,
    InvalidInput,
    InvalidMessage,
    MalformedLine,
    SealBroken,
    StorageUnavailable,
    UnknownConversation,
    UnknownTopic,
    UnreadableEvent,
    WriteContention,
)
from chatledger.domain.messages import (
    DEFAULT_MAX_CONTENT_BYTES,
    Message,
    Role,
    ToolCall,
    check_conversation_id,
)
from chatledger.domain.ports import TokenCounter

__all__ = [
    "ChatLedgerError",
    "ConcurrencyConflict",
    "Conversation",
    "ConversationErased",
    "DEFAULT_MAX_CONTENT_BYTES",
    "DomainEvent",
    "EncodingUnavailable",
    "Governance",
    "IdempotencyConflict",
    "InvalidConversationId",
    "InvalidInput",
    "InvalidMessage",
    "MalformedLine",
    "Message",
    "MessageKey",
    "ModelCallLog",
    "Role",
    "SealBroken",
    "StorageUnavailable",
    "TokenCounter",
    "ToolCall",
    "UnknownConversation",
    "UnknownTopic",
    "UnreadableEvent",
    "Usage",
    "WriteContention",
    "check_conversation_id",
    "project_conversation",
    "project_message_key",
    "utc_now",
]
