"""The envelope a data key is stored in: bound to its conversation, opened by its KEK alone."""

from __future__ import annotations

import base64
import os

import pytest

from chatledger import KeyEncryptionKeyUnavailable
from chatledger.infrastructure.storage.wrapping import (
    LocalKeyEncryptionKey,
    envelope,
    is_legacy,
    unwrap,
    wrapped_by,
)

KEY = os.urandom(32)


def test_a_wrapped_key_opens_with_its_kek_and_conversation() -> None:
    kek = LocalKeyEncryptionKey.generate()

    stored = envelope(kek, KEY, "conv-1")

    assert unwrap(kek, stored, "conv-1") == KEY
    assert KEY not in stored
    assert wrapped_by(stored) == kek.id


def test_a_wrapped_key_moved_to_another_conversation_does_not_open() -> None:
    kek = LocalKeyEncryptionKey.generate()
    stored = envelope(kek, KEY, "conv-1")

    with pytest.raises(KeyEncryptionKeyUnavailable, match="does not open"):
        unwrap(kek, stored, "conv-2")


def test_another_kek_is_named_rather_than_tried() -> None:
    stored = envelope(LocalKeyEncryptionKey.generate(), KEY, "conv-1")
    other = LocalKeyEncryptionKey.generate("the key in $CHATLEDGER_KEK")

    with pytest.raises(KeyEncryptionKeyUnavailable) as refused:
        unwrap(other, stored, "conv-1")

    assert other.id in str(refused.value)
    assert "the key in $CHATLEDGER_KEK" in str(refused.value)


def test_a_bare_legacy_key_reads_as_it_is() -> None:
    assert is_legacy(KEY)
    assert unwrap(LocalKeyEncryptionKey.generate(), KEY, "conv-1") == KEY
    assert not is_legacy(envelope(LocalKeyEncryptionKey.generate(), KEY, "conv-1"))


def test_the_same_secret_has_the_same_id_and_reveals_nothing_of_it() -> None:
    secret = os.urandom(32)
    text = base64.b64encode(secret).decode()

    first = LocalKeyEncryptionKey.from_base64(text, "a")
    second = LocalKeyEncryptionKey(secret, "b")

    assert first.id == second.id
    assert first.id not in (secret.hex(), text)


def test_a_short_kek_is_refused_saying_how_many_bytes_it_needs() -> None:
    with pytest.raises(KeyEncryptionKeyUnavailable, match="holds 16 bytes, not 32"):
        LocalKeyEncryptionKey.from_base64(base64.b64encode(os.urandom(16)).decode(), "$X")
