"""Attachments: a message's large binary parts stored apart from it, and put back on request.

A part whose base64 ``data`` decodes to more than a threshold is *detached*: the stored
message holds an ``Attachment`` (the bytes' sha256, media type and size) in its place, and the
bytes go to the store beside it. The message's digest, which the hash chain covers and
retries compare, is the detached message's: the same whether the caller sent the bytes inline
or the reference. *Inlining* puts the bytes back as base64, giving the message as it was sent.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass

from chatledger.domain.errors import InvalidInput
from chatledger.domain.messages import Message
from chatledger.domain.parts import Attachment, AudioPart, FilePart, ImagePart, decoded_size

AttachmentResolver = Callable[[str], str]
"""An attachment's digest to its bytes as base64 text: what a rendering calls when it meets a
part that holds an attachment rather than its data."""

_BINARY_PARTS = (ImagePart, FilePart, AudioPart)
_AUDIO_MEDIA_TYPES = {
    "wav": "audio/wav",
    "mp3": "audio/mpeg",
    "flac": "audio/flac",
    "opus": "audio/opus",
    "aac": "audio/aac",
    "ogg": "audio/ogg",
    "webm": "audio/webm",
}
"""Media types of the audio formats the providers name; another format's is unknown."""
UNKNOWN_MEDIA_TYPE = "application/octet-stream"
_DIGEST = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class Detached:
    """Bytes taken out of one part of a message, and the reference left in their place."""

    index: int
    """The part's place in the message's content: errors name ``content.<index>``."""
    attachment: Attachment
    data: bytes


def media_type_of(part: ImagePart | FilePart | AudioPart) -> str:
    """The media type an attachment of ``part`` records: the part's own, else its format's."""
    if part.media_type is not None:
        return part.media_type
    if isinstance(part, AudioPart):
        return _AUDIO_MEDIA_TYPES.get(part.format.lower(), UNKNOWN_MEDIA_TYPE)
    return UNKNOWN_MEDIA_TYPE


def attachment_of(part: ImagePart | FilePart | AudioPart, data: bytes) -> Attachment:
    """The reference to ``data`` as an attachment of ``part``: its sha256, media type, size."""
    return Attachment(
        digest=hashlib.sha256(data).hexdigest(), media_type=media_type_of(part), size=len(data)
    )


def detach(message: Message, threshold: int) -> tuple[Message, tuple[Detached, ...]]:
    """The message as stored, each inline binary part over ``threshold`` bytes (decoded)
    holding an attachment instead of its data; and the bytes taken out.

    A message with nothing over the threshold is returned as it is.
    """
    if not isinstance(message.content, tuple):
        return message, ()
    parts = list(message.content)
    detached: list[Detached] = []
    for index, part in enumerate(parts):
        if not isinstance(part, _BINARY_PARTS) or part.data is None:
            continue
        if decoded_size(part.data) <= threshold:
            continue
        # The part's rules checked the base64 strictly when it was built.
        data = binascii.a2b_base64(part.data)
        attachment = attachment_of(part, data)
        parts[index] = part.model_copy(update={"data": None, "attachment": attachment})
        detached.append(Detached(index, attachment, data))
    if not detached:
        return message, ()
    return message.model_copy(update={"content": tuple(parts)}), tuple(detached)


def referenced(message: Message) -> Message:
    """The message with every inline binary part as its attachment reference, whatever its size.

    Two messages that differ only in which bytes are inline and which attached have the same
    referenced form: what a model call's payload digest covers.
    """
    return detach(message, -1)[0]


def attachments_of(message: Message) -> tuple[tuple[int, Attachment], ...]:
    """The attachments the message refers to, each with its part's place in the content."""
    if not isinstance(message.content, tuple):
        return ()
    return tuple(
        (index, part.attachment)
        for index, part in enumerate(message.content)
        if isinstance(part, _BINARY_PARTS) and part.attachment is not None
    )


def inline(message: Message, resolve: AttachmentResolver) -> Message:
    """The message with each attachment's bytes back in its part, as base64 ``data``.

    ``resolve`` gives an attachment's bytes, as base64 text, from its digest.
    """
    if not isinstance(message.content, tuple):
        return message
    parts = list(message.content)
    changed = False
    for index, part in enumerate(parts):
        if isinstance(part, _BINARY_PARTS) and part.attachment is not None:
            data = resolve(part.attachment.digest)
            parts[index] = part.model_copy(update={"data": data, "attachment": None})
            changed = True
    return message.model_copy(update={"content": tuple(parts)}) if changed else message


def check_digest(field: str, value: object) -> str:
    """Return ``value`` if it is an attachment's digest (64 lowercase hex digits), else raise."""
    if not isinstance(value, str) or _DIGEST.fullmatch(value) is None:
        shown = value[:80] if isinstance(value, str) else type(value).__name__
        raise InvalidInput(field, f"must be a sha256 as 64 lowercase hex digits, got {shown!r}")
    return value


def base64_text(data: bytes) -> str:
    """``data`` as base64 text, as a part's ``data`` holds it."""
    return base64.b64encode(data).decode("ascii")


def base64_length(size: int) -> int:
    """The characters of base64 that ``size`` bytes take, padding included."""
    return 4 * ((size + 2) // 3)
