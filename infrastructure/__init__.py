"""Everything that touches the outside world: storage, services, entrypoints, and the facade."""

from chatledger.domain import (
    ConversationErased,
    ConversationRecord,
    ModelCall,
    RetentionReport,
    SealBroken,
)
from chatledger.infrastructure.async_ledger import AsyncChatLedger
from chatledger.infrastructure.ledger import ChatLedger
from chatledger.infrastructure.services.audit import Replay, payload_sha256
from chatledger.infrastructure.services.recording import RecordOutcome
from chatledger.infrastructure.services.verification import Break, Verified
from chatledger.infrastructure.storage.backends import (
    DEFAULT_DATABASE_URL,
    Backend,
    backend_for,
    database_url,
)
from chatledger.infrastructure.storage.keys import KeyRotation
from chatledger.infrastructure.storage.wrapping import KeyEncryptionKey, LocalKeyEncryptionKey
from chatledger.infrastructure.summarizers import OpenAISummarizer
from chatledger.infrastructure.tokens import (
    AnthropicCounter,
    TiktokenCounter,
    default_token_counter,
    load_encoding,
)

__all__ = [
    "AnthropicCounter",
    "AsyncChatLedger",
    "Backend",
    "Break",
    "ChatLedger",
    "ConversationErased",
    "ConversationRecord",
    "DEFAULT_DATABASE_URL",
    "KeyEncryptionKey",
    "KeyRotation",
    "LocalKeyEncryptionKey",
    "ModelCall",
    "OpenAISummarizer",
    "RecordOutcome",
    "Replay",
    "RetentionReport",
    "SealBroken",
    "TiktokenCounter",
    "Verified",
    "backend_for",
    "database_url",
    "default_token_counter",
    "load_encoding",
    "payload_sha256",
]
