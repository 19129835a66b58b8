"""Key-encryption keys: data keys are stored wrapped by a key that never enters the database.

A copy of the database's files, its write-ahead log or a backup holds only wrapped data keys,
which open nothing without the key-encryption key (KEK). ``KeyEncryptionKey`` is the port: the
local implementation here holds 32 bytes from a file or a variable; a KMS adapter implements
the same two methods with the KMS's encrypt and decrypt calls.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from abc import ABC, abstractmethod
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from chatledger.domain.errors import KeyEncryptionKeyUnavailable

KEK_BYTES = 32
NONCE_BYTES = 12
LEGACY_KEY_BYTES = 32
"""Keys stored before wrapping are the bare 32 bytes; a wrapped key is always longer."""
ENVELOPE_VERSION = 1
WRAP_LABEL = b"chatledger data key\n"
ID_LABEL = b"chatledger kek id"
KEK_VARIABLE = "CHATLEDGER_KEK"
KEY_FILE_VARIABLE = "CHATLEDGER_KEY_FILE"


class KeyEncryptionKey(ABC):
    """Wraps and unwraps data keys; implement it to keep the KEK in a KMS."""

    source: str = "a key-encryption key"
    """Where the KEK came from, fit to show in an error (never the key itself)."""

    @property
    @abstractmethod
    def id(self) -> str:
        """A short public name of this KEK (ASCII, at most 255 bytes), stored beside each key."""

    @abstractmethod
    def wrap(self, key: bytes, context: bytes) -> bytes:
        """``key`` encrypted and authenticated, bound to ``context`` (the conversation id)."""

    @abstractmethod
    def unwrap(self, wrapped: bytes, context: bytes) -> bytes:
        """The key ``wrap`` sealed; raises KeyEncryptionKeyUnavailable if it does not open."""


class LocalKeyEncryptionKey(KeyEncryptionKey):
    """A 256-bit KEK held by this process: AES-256-GCM, the context as associated data."""

    def __init__(self, secret: bytes, source: str = "a key-encryption key") -> None:
        if len(secret) != KEK_BYTES:
            raise KeyEncryptionKeyUnavailable(
                f"{source} holds {len(secret)} bytes, not {KEK_BYTES}",
                f"give {KEK_BYTES} random bytes, base64-encoded "
                '(python -c "import os,base64;print(base64.b64encode(os.urandom(32)).decode())")',
            )
        self._cipher = AESGCM(secret)
        self._id = hmac.new(secret, ID_LABEL, hashlib.sha256).hexdigest()[:16]
        self.source = source

    @classmethod
    def generate(
        cls, source: str = "a key-encryption key of this process"
    ) -> LocalKeyEncryptionKey:
        """A new random KEK."""
        return cls(os.urandom(KEK_BYTES), source)

    @classmethod
    def from_base64(cls, text: str, source: str) -> LocalKeyEncryptionKey:
        """The KEK written as base64 text (what key files and $CHATLEDGER_KEK hold)."""
        try:
            secret = base64.b64decode(text.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise KeyEncryptionKeyUnavailable(
                f"{source} is not base64 text", f"write {KEK_BYTES} random bytes in base64"
            ) from None
        return cls(secret, source)

    @classmethod
    def from_file(cls, path: Path) -> LocalKeyEncryptionKey:
        """The KEK in a key file; raises KeyEncryptionKeyUnavailable if it cannot be read."""
        try:
            text = path.read_text(encoding="ascii")
        except (OSError, UnicodeDecodeError) as failure:
            raise KeyEncryptionKeyUnavailable(
                f"the key file {str(path)!r} cannot be read ({failure.__class__.__name__})",
                f"restore it, or name the right one with ${KEY_FILE_VARIABLE}",
            ) from None
        return cls.from_base64(text, f"the key file {str(path)!r}")

    @property
    def id(self) -> str:
        """The first 16 hex digits of an HMAC of a fixed label under the KEK: it reveals nothing."""
        return self._id

    def wrap(self, key: bytes, context: bytes) -> bytes:
        """Nonce and AES-GCM ciphertext of ``key``."""
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._cipher.encrypt(nonce, key, WRAP_LABEL + context)

    def unwrap(self, wrapped: bytes, context: bytes) -> bytes:
        """The data key; a wrong KEK, context or altered bytes raise."""
        try:
            return self._cipher.decrypt(
                wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], WRAP_LABEL + context
            )
        except InvalidTag:
            raise KeyEncryptionKeyUnavailable(
                f"{self.source} does not open a stored data key (a different KEK wrapped it, "
                "or the stored key was altered)",
                "configure the key file or $CHATLEDGER_KEK the database was written with",
            ) from None


def write_key_file(path: Path) -> LocalKeyEncryptionKey:
    """Create ``path`` holding a new random KEK, readable by its owner only; never overwrite.

    Raises FileExistsError if there is a file there already.
    """
    secret = os.urandom(KEK_BYTES)
    draft = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}")
    descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w", encoding="ascii") as file:
            file.write(base64.b64encode(secret).decode("ascii") + "\n")
            file.flush()
            os.fsync(file.fileno())
        # A link appears whole or not at all: a process opening the same new database at
        # once reads the complete key, never an empty file.
        os.link(draft, path)
    finally:
        draft.unlink()
    return LocalKeyEncryptionKey(secret, f"the key file {str(path)!r}")


def envelope(kek: KeyEncryptionKey, key: bytes, conversation_id: str) -> bytes:
    """What the keys table stores: version, the KEK's id, and the wrapped key."""
    kek_id = kek.id.encode("ascii")
    wrapped = kek.wrap(key, conversation_id.encode("utf-8"))
    return bytes([ENVELOPE_VERSION, len(kek_id)]) + kek_id + wrapped


def is_legacy(stored: bytes) -> bool:
    """Whether ``stored`` is a bare key written before keys were wrapped."""
    return len(stored) == LEGACY_KEY_BYTES


def wrapped_by(stored: bytes) -> str | None:
    """The id of the KEK that wrapped ``stored``; None for a legacy bare key."""
    if is_legacy(stored):
        return None
    if stored[0] != ENVELOPE_VERSION:
        raise KeyEncryptionKeyUnavailable(
            f"a stored data key has format {stored[0]}, which this chatledger does not know",
            "was the database written by a newer version? Upgrade chatledger to read it",
        )
    return stored[2 : 2 + stored[1]].decode("ascii")


def unwrap(kek: KeyEncryptionKey, stored: bytes, conversation_id: str) -> bytes:
    """The data key in ``stored``: a legacy bare key as it is, an envelope unwrapped."""
    kek_id = wrapped_by(stored)
    if kek_id is None:
        return stored
    if kek_id != kek.id:
        raise mismatch(kek, kek_id)
    return kek.unwrap(stored[2 + stored[1] :], conversation_id.encode("utf-8"))


def mismatch(kek: KeyEncryptionKey, stored_id: str) -> KeyEncryptionKeyUnavailable:
    """The error for data keys wrapped by another KEK than the configured one."""
    return KeyEncryptionKeyUnavailable(
        f"the data keys are wrapped by key-encryption key {stored_id}, but {kek.source} "
        f"is key {kek.id}",
        f"configure the key the database was written with (${KEY_FILE_VARIABLE}, "
        f"${KEK_VARIABLE}, or the key file beside a SQLite database); without it the text "
        "cannot be read",
    )
