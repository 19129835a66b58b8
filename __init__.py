"""chatledger: a conversation store for LLM apps; every message an event, every view a projection.

The names users need are here. The layers are submodules: ``chatledger.domain`` (messages,
events, rules, errors), ``chatledger.projections`` (the views derived from the events) and
``chatledger.infrastructure`` (storage, services, the CLI and the HTTP service).
"""

from chatledger.domain import (
    ChatLedgerError,
    ConcurrencyConflict,
    EncodingUnavailable,
    IdempotencyConflict,
    InvalidConversationId,
    InvalidInput,
    InvalidMessage,
    Message,
    Role,
    TokenCounter,
    ToolCall,
    UnknownConversation,
    Usage,
)
from chatledger.infrastructure import (
    Break,
    ChatLedger,
    ConversationErased,
    ConversationRecord,
    ModelCall,
    Replay,
    RetentionReport,
    SealBroken,
    TiktokenCounter,
    Verified,
)
from chatledger.projections import (
    Exclusion,
    HistoryEntry,
    HistoryView,
    MemoryExplanation,
    MemoryView,
    MessageWindow,
    Policy,
    TokenWindow,
)

__all__ = [
    "Break",
    "ChatLedger",
    "ChatLedgerError",
    "ConcurrencyConflict",
    "ConversationErased",
    "ConversationRecord",
    "EncodingUnavailable",
    "Exclusion",
    "HistoryEntry",
    "HistoryView",
    "IdempotencyConflict",
    "InvalidConversationId",
    "InvalidInput",
    "InvalidMessage",
    "MemoryExplanation",
    "MemoryView",
    "Message",
    "MessageWindow",
    "ModelCall",
    "Policy",
    "Replay",
    "RetentionReport",
    "Role",
    "SealBroken",
    "TiktokenCounter",
    "TokenCounter",
    "TokenWindow",
    "ToolCall",
    "UnknownConversation",
    "Usage",
    "Verified",
]
