"""Everything that touches the outside world: storage, tokenizers, the CLI, and the wiring."""

from infrastructure.audit import ModelCall, Replay, RetentionReport, payload_sha256
from infrastructure.keys import ConversationErased, ConversationRecord
from infrastructure.ledger import ChatLedger
from infrastructure.sealing import SealBroken
from infrastructure.settings import DEFAULT_DATABASE_URL, StorageSettings, database_url
from infrastructure.tokens import TiktokenCounter, default_token_counter, load_encoding
from infrastructure.verification import Break, Verified

__all__ = [
    "Break",
    "ChatLedger",
    "ConversationErased",
    "ConversationRecord",
    "DEFAULT_DATABASE_URL",
    "ModelCall",
    "Replay",
    "RetentionReport",
    "SealBroken",
    "StorageSettings",
    "TiktokenCounter",
    "Verified",
    "database_url",
    "default_token_counter",
    "load_encoding",
    "payload_sha256",
]
