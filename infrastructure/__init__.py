"""Everything that touches the outside world: storage, tokenizers, the CLI, and the wiring."""

from infrastructure.ledger import ChatLedger
from infrastructure.settings import DEFAULT_DATABASE_URL, StorageSettings, database_url

__all__ = [
    "ChatLedger",
    "DEFAULT_DATABASE_URL",
    "StorageSettings",
    "database_url",
]
