"""Message text sealed with its conversation's key (AES-256-GCM), bound to its stream position;
attachments sealed under the same key, bound to their keyed id."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from collections.abc import Callable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from chatledger.domain import ConversationErased

# Re-exported: the error lived here before the domain's error tree held it.
from chatledger.domain.errors import SealBroken as SealBroken
from chatledger.infrastructure.storage.keys import KeyStore

NONCE_BYTES = 12
CIPHER_CACHE_SIZE = 1024
DIGEST_LABEL = b"chatledger digest"
CLAIM_LABEL = b"chatledger claim"
ATTACHMENT_LABEL = b"chatledger attachment"
"""What each key derived from a conversation's data key is for: one key, one purpose."""
_LABELS = (DIGEST_LABEL, CLAIM_LABEL, ATTACHMENT_LABEL)


def keyed_digest(key: bytes, data: bytes) -> str:
    """``Sealer.digest`` of ``data`` under a given data key, with no key store: for checking
    an export that carries its conversation's key."""
    derived = hmac.new(key, DIGEST_LABEL, hashlib.sha256).digest()
    return hmac.new(derived, data, hashlib.sha256).hexdigest()


def keyed_claim_id(key: bytes, message_id: str) -> str:
    """``Sealer.claim_id`` under a given data key, with no key store (see ``keyed_digest``)."""
    derived = hmac.new(key, CLAIM_LABEL, hashlib.sha256).digest()
    return "key/" + hmac.new(derived, message_id.encode("utf-8"), hashlib.sha256).hexdigest()


class Sealer:
    """Encrypts and decrypts event payloads with per-conversation keys."""

    def __init__(self, keys: KeyStore) -> None:
        self.keys = keys
        self._ciphers: dict[str, tuple[bytes, AESGCM]] = {}
        self._macs: dict[tuple[str, bytes], tuple[bytes, hmac.HMAC]] = {}

    def digest(self, conversation_id: str, data: bytes, *, create: bool = True) -> str:
        """The keyed digest of ``data``: HMAC-SHA256 under a key derived from the data key.

        Without the conversation's key, which erasure destroys, a stored digest confirms no
        guess of the text it covers. Creates the key if the conversation has none yet, unless
        ``create`` is false (then a conversation without a key raises SealBroken).
        """
        return self._mac(conversation_id, DIGEST_LABEL, data, create=create)

    def claim_id(self, conversation_id: str, message_id: str) -> str:
        """The stream id of a message-id claim, keyed like ``digest``: ids say nothing either."""
        return "key/" + self._mac(conversation_id, CLAIM_LABEL, message_id.encode("utf-8"))

    def attachment_id(self, conversation_id: str, digest: str, *, create: bool = True) -> str:
        """The id an attachment's row is stored under: its sha256 digest, keyed like ``digest``.

        The message that refers to the attachment holds its plain sha256, sealed; the row id in
        the clear is an HMAC of that digest, so it confirms no guess of the bytes once the key
        is gone, and the row is found from the reference by computing it again.
        """
        return self._mac(conversation_id, ATTACHMENT_LABEL, digest.encode("ascii"), create=create)

    def seal_attachment(self, conversation_id: str, attachment_id: str, data: bytes) -> bytes:
        """The bytes sealed (nonce, then ciphertext), bound to their conversation and id."""
        key = self._key(conversation_id, create=True)
        assert key is not None  # create=True either returns a key or raises ConversationErased
        nonce = os.urandom(NONCE_BYTES)
        cipher = self._cipher(conversation_id, key)
        return nonce + cipher.encrypt(
            nonce, data, _attachment_bound_to(conversation_id, attachment_id)
        )

    def open_attachment(self, conversation_id: str, attachment_id: str, sealed: bytes) -> bytes:
        """The attachment's bytes; ConversationErased if the key is gone, SealBroken if altered."""
        cipher = self._opening_cipher(conversation_id)
        try:
            return cipher.decrypt(
                sealed[:NONCE_BYTES],
                sealed[NONCE_BYTES:],
                _attachment_bound_to(conversation_id, attachment_id),
            )
        except InvalidTag:
            raise SealBroken(
                f"conversation {conversation_id!r} attachment {attachment_id}: the sealed bytes "
                "do not authenticate (altered, or moved from another attachment)"
            ) from None

    def _mac(self, conversation_id: str, label: bytes, data: bytes, *, create: bool = True) -> str:
        key = self._key(conversation_id, create=create)
        if key is None:
            raise SealBroken(f"conversation {conversation_id!r} has keyed digests but no key")
        cached = self._macs.get((conversation_id, label))
        if cached is None or cached[0] != key:
            if len(self._macs) >= CIPHER_CACHE_SIZE:
                self._macs.clear()
            derived = hmac.new(key, label, hashlib.sha256).digest()
            cached = (key, hmac.new(derived, digestmod=hashlib.sha256))
            self._macs[(conversation_id, label)] = cached
        mac = cached[1].copy()
        mac.update(data)
        return mac.hexdigest()

    def _key(self, conversation_id: str, *, create: bool = False) -> bytes | None:
        try:
            return self.keys.key(conversation_id, create=create)
        except ConversationErased:
            # The key store forgot the key; so must we, or it would outlive the erasure here.
            self._ciphers.pop(conversation_id, None)
            for label in _LABELS:
                self._macs.pop((conversation_id, label), None)
            raise

    def _cipher(self, conversation_id: str, key: bytes) -> AESGCM:
        # Building an AESGCM costs as much as opening a short message with it. The entry is
        # used only while the key store still hands out the same key.
        cached = self._ciphers.get(conversation_id)
        if cached is not None and cached[0] == key:
            return cached[1]
        if len(self._ciphers) >= CIPHER_CACHE_SIZE:
            self._ciphers.clear()
        cipher = AESGCM(key)
        self._ciphers[conversation_id] = (key, cipher)
        return cipher

    def seal(
        self, conversation_id: str, version: int, plaintext: bytes, *, stream: str | None = None
    ) -> str:
        """Ciphertext (base64) of ``plaintext``, creating the conversation's key if needed.

        Bound to ``version`` of ``stream`` (the conversation's own stream unless given: a
        summary's is its summary stream), so it opens nowhere else.
        """
        key = self._key(conversation_id, create=True)
        assert key is not None  # create=True either returns a key or raises ConversationErased
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._cipher(conversation_id, key).encrypt(
            nonce, plaintext, _bound_to(stream or conversation_id, version)
        )
        return base64.b64encode(nonce + sealed).decode("ascii")

    def open(
        self, conversation_id: str, version: int, sealed: str, *, stream: str | None = None
    ) -> bytes:
        """The plaintext; raises ConversationErased if the key is gone, SealBroken if altered."""
        cipher = self._opening_cipher(conversation_id)
        return _open(cipher, conversation_id, version, sealed, stream=stream)

    def opener(self, conversation_id: str) -> Callable[[int, str], bytes]:
        """``open`` for one conversation, its key looked up once: for reading many messages.

        Raises ConversationErased if the key is gone, SealBroken if there is none; the
        returned function raises SealBroken for a message that does not authenticate.
        A whole-history read measured slower when it looked the key up for every message.
        """
        cipher = self._opening_cipher(conversation_id)
        return lambda version, sealed: _open(cipher, conversation_id, version, sealed)

    def _opening_cipher(self, conversation_id: str) -> AESGCM:
        key = self._key(conversation_id)
        if key is None:
            raise SealBroken(f"conversation {conversation_id!r} has sealed events but no key")
        return self._cipher(conversation_id, key)


def _open(
    cipher: AESGCM, conversation_id: str, version: int, sealed: str, *, stream: str | None = None
) -> bytes:
    raw = binascii.a2b_base64(sealed)  # what base64.b64decode does, without its wrapping
    try:
        return cipher.decrypt(
            raw[:NONCE_BYTES], raw[NONCE_BYTES:], _bound_to(stream or conversation_id, version)
        )
    except InvalidTag:
        raise SealBroken(
            f"conversation {conversation_id!r} version {version}: the sealed message does "
            "not authenticate (altered, or moved from another position)"
        ) from None


def _bound_to(conversation_id: str, version: int) -> bytes:
    # Associated data: a ciphertext copied to another row or conversation fails to open.
    return f"{conversation_id}\n{version}".encode()


def _attachment_bound_to(conversation_id: str, attachment_id: str) -> bytes:
    # Never equal to a message's associated data, whose second line is a version number.
    return f"{conversation_id}\nattachment {attachment_id}".encode()
