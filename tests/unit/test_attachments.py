"""Detaching large binary parts and putting them back: pure functions of the message."""

from __future__ import annotations

import base64
import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chatledger.domain import (
    Attachment,
    AudioPart,
    FilePart,
    ImagePart,
    InvalidInput,
    InvalidMessage,
    Limits,
    Message,
    TextPart,
)
from chatledger.domain.attachments import (
    attachments_of,
    base64_length,
    check_digest,
    detach,
    inline,
    referenced,
)
from chatledger.domain.audit import payload_digest

IMAGE = bytes(range(256)) * 200  # 51,200 bytes: over the default threshold of 32 KiB
UNKNOWN = "application/octet-stream"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def with_image(data: bytes = IMAGE, id: str = "m-1") -> Message:
    return Message(
        id=id,
        role="user",
        content=(TextPart(text="What is this?"), ImagePart(data=b64(data), media_type="image/png")),
    )


def resolver_of(*blobs: bytes) -> dict[str, str]:
    return {hashlib.sha256(blob).hexdigest(): b64(blob) for blob in blobs}


def test_a_part_over_the_threshold_holds_a_reference_to_its_bytes_instead() -> None:
    stored, detached = detach(with_image(), threshold=32 * 1024)

    part = stored.parts[1]
    assert isinstance(part, ImagePart)
    assert part.data is None
    assert part.attachment == Attachment(
        digest=hashlib.sha256(IMAGE).hexdigest(), media_type="image/png", size=len(IMAGE)
    )
    assert [(d.index, d.data) for d in detached] == [(1, IMAGE)]


def test_a_part_at_the_threshold_stays_inline() -> None:
    message = with_image(IMAGE[:1024])

    stored, detached = detach(message, threshold=1024)

    assert stored is message
    assert detached == ()


def test_inlining_a_detached_message_gives_back_the_message_as_sent() -> None:
    message = with_image()
    stored, _ = detach(message, threshold=0)

    assert inline(stored, resolver_of(IMAGE).__getitem__) == message


def test_a_message_sent_inline_or_with_its_reference_is_stored_with_one_digest() -> None:
    stored, _ = detach(with_image(), threshold=0)

    again, detached = detach(stored, threshold=0)

    assert detached == ()
    assert again.digest() == stored.digest()


def test_the_referenced_form_does_not_depend_on_the_threshold() -> None:
    message = with_image()

    assert referenced(message) == referenced(detach(message, threshold=0)[0])
    assert referenced(message) == referenced(detach(message, threshold=10**9)[0])


def test_an_audio_attachment_takes_its_media_type_from_the_format() -> None:
    message = Message(role="user", content=(AudioPart(data=b64(IMAGE), format="mp3"),))

    stored, _ = detach(message, threshold=0)

    assert attachments_of(stored)[0][1].media_type == "audio/mpeg"


def test_a_file_without_a_media_type_is_stored_as_octet_stream() -> None:
    message = Message(role="user", content=(FilePart(data=b64(IMAGE), filename="a.bin"),))

    stored, _ = detach(message, threshold=0)

    assert attachments_of(stored) == (
        (0, Attachment(digest=hashlib.sha256(IMAGE).hexdigest(), media_type=UNKNOWN, size=51200)),
    )


def test_a_payload_digest_is_the_same_with_attachments_inlined_or_referenced() -> None:
    message = with_image()
    stored, _ = detach(message, threshold=0)

    assert payload_digest([message]) == payload_digest([stored])


def test_a_payload_digest_of_plain_text_is_the_one_it_always_was() -> None:
    message = Message(id="m-1", role="user", content="hello")
    before_parts = (
        '[{"content":"hello","id":"m-1","metadata":{},"name":null,"role":"user",'
        '"tool_call_id":null,"tool_calls":[]}]'
    )

    assert payload_digest([message]) == hashlib.sha256(before_parts.encode()).hexdigest()


def test_an_attachment_reference_over_the_size_limit_is_refused_naming_the_part() -> None:
    stored, _ = detach(with_image(), threshold=0)

    with pytest.raises(InvalidMessage) as raised:
        stored.check_limits(Limits(max_attachment_bytes=1024))

    assert raised.value.field == "content.1.attachment"
    assert "max_attachment_bytes" in raised.value.problem


def test_a_digest_must_be_64_lowercase_hex_digits() -> None:
    with pytest.raises(InvalidInput) as raised:
        check_digest("digest", "ABC")

    assert raised.value.field == "digest"


def test_base64_length_is_what_encoding_takes() -> None:
    assert [base64_length(n) for n in (0, 1, 2, 3, 4)] == [len(b64(b"x" * n)) for n in range(5)]


@settings(max_examples=100, deadline=None)
@given(
    blobs=st.lists(st.binary(max_size=300), min_size=1, max_size=4),
    threshold=st.integers(min_value=0, max_value=320),
)
def test_detaching_then_inlining_is_the_identity_and_detaching_twice_changes_nothing(
    blobs: list[bytes], threshold: int
) -> None:
    message = Message(
        role="user",
        content=tuple(ImagePart(data=b64(blob), media_type="image/png") for blob in blobs),
    )

    stored, detached = detach(message, threshold)

    assert inline(stored, resolver_of(*blobs).__getitem__) == message
    assert detach(stored, threshold) == (stored, ())
    assert all(len(d.data) > threshold for d in detached)
    assert len(detached) == sum(len(blob) > threshold for blob in blobs)
