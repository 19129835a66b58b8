"""Content parts: what a message holds besides plain text, as the providers exchange it.

A message's ``content`` is text, or a tuple of parts discriminated by ``type``. Each part keeps
what its provider sent that chatledger does not model in ``extra``, so a field added next month
survives a round trip; everything opaque (base64 data, signatures, encrypted reasoning) is
kept byte for byte, as text.
"""

from __future__ import annotations

import binascii
import re
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, StrictBool, StrictInt

from chatledger.domain.errors import InvalidMessage
from chatledger.domain.validation import (
    Frozen,
    Identifier,
    Text,
    check_json_numbers,
    check_json_text,
    check_texts,
)

Extra = dict[str, JsonValue]
"""A provider's fields that no chatledger field holds, kept as sent."""

_DIGEST = re.compile(r"[0-9a-f]{64}")
_MEDIA_TYPE = re.compile(r"[A-Za-z0-9][\w.+-]*/[\w.+-]+")


class Attachment(BaseModel):
    """Bytes stored apart from the event, once a conversation, named by their digest.

    A part whose base64 data is over the attachment threshold holds this instead of ``data``;
    the hash chain covers the digest, and reading the bytes back is asked for explicitly.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    digest: str
    """sha256 of the bytes, hex: the same bytes in one conversation are stored once."""
    media_type: str
    size: StrictInt = Field(ge=0)
    """The bytes' length, decoded (not their base64 length)."""

    def model_post_init(self, context: Any, /) -> None:
        if _DIGEST.fullmatch(self.digest) is None:
            raise ValueError("digest must be 64 lowercase hex digits (a sha256)")


class _Part(Frozen):
    _noun: ClassVar[str] = "part"
    type: str
    extra: Extra = Field(default_factory=dict)

    def _check_rules(self) -> None:
        texts: dict[str, str | None] = {n: v for n, v in self if isinstance(v, str)}
        check_texts(texts)
        if self.extra:
            try:
                check_json_text(self.extra)
            except ValueError as exc:
                raise InvalidMessage("extra", str(exc)) from None
            check_json_numbers(self.extra, "extra")
        self._check_part()

    def _check_part(self) -> None:
        """Raise InvalidMessage for a rule of this kind of part."""

    def text_of(self) -> str:
        """The text a reader sees of this part ('' for one that holds none)."""
        return ""


class TextPart(_Part):
    """Text, as one part among others."""

    type: Literal["text"] = "text"
    text: Text

    def text_of(self) -> str:
        return self.text


class _Binary(_Part):
    """A part whose bytes are base64 ``data`` inline, or an ``attachment`` stored apart."""

    data: Text | None = None
    """Base64 of the bytes, as the provider sent it."""
    attachment: Attachment | None = None
    media_type: Identifier | None = None

    def _check_part(self) -> None:
        if self.data is not None and self.attachment is not None:
            raise InvalidMessage("attachment", "a part holds its data inline or attached, not both")
        if self.data is not None:
            try:
                binascii.a2b_base64(self.data, strict_mode=True)
            except (binascii.Error, ValueError) as exc:
                raise InvalidMessage("data", f"must be base64: {exc}") from None
        if self.media_type is not None and _MEDIA_TYPE.fullmatch(self.media_type) is None:
            raise InvalidMessage(
                "media_type", f"must be a media type such as image/png, got {self.media_type!r}"
            )

    @property
    def inline(self) -> bool:
        """Whether the part holds its bytes (not an attachment's reference)."""
        return self.attachment is None


class ImagePart(_Binary):
    """An image: by URL, base64 data with its media type (or attached), or a provider file id."""

    type: Literal["image"] = "image"
    url: Text | None = None
    file_id: Identifier | None = None
    """An image uploaded to the provider's files API: only that provider can read it."""
    detail: Identifier | None = None
    """OpenAI's detail level (``low``, ``high``, ``auto``): what the image costs in tokens."""

    def _check_part(self) -> None:
        super()._check_part()
        sources = [self.url, self.data, self.attachment, self.file_id]
        if sum(source is not None for source in sources) != 1:
            raise InvalidMessage("image", "needs exactly one of url, data, attachment or file_id")
        if self.data is not None and self.media_type is None:
            raise InvalidMessage("media_type", "is required with base64 data")


class FilePart(_Binary):
    """A file or document (a PDF, a text): base64 data, a URL, a provider file id or text."""

    type: Literal["file"] = "file"
    url: Text | None = None
    file_id: Identifier | None = None
    text: Text | None = None
    """A plain-text document's text (Anthropic's ``text`` source)."""
    filename: Text | None = None

    def _check_part(self) -> None:
        super()._check_part()
        sources = [self.data, self.attachment, self.url, self.file_id, self.text]
        if sum(source is not None for source in sources) != 1:
            raise InvalidMessage(
                "file", "needs exactly one of data, attachment, url, file_id or text"
            )

    def text_of(self) -> str:
        return self.text or ""


class AudioPart(_Binary):
    """Audio: base64 data (or attached) and its format (``wav``, ``mp3``)."""

    type: Literal["audio"] = "audio"
    format: Identifier

    def _check_part(self) -> None:
        super()._check_part()
        if (self.data is None) == (self.attachment is None):
            raise InvalidMessage("audio", "needs exactly one of data or attachment")


class RefusalPart(_Part):
    """The model's refusal to answer, in its words."""

    type: Literal["refusal"] = "refusal"
    refusal: Text

    def text_of(self) -> str:
        return self.refusal


class ReasoningPart(_Part):
    """Reasoning the model returned, which the provider wants sent back unchanged.

    Anthropic's ``thinking`` (``text`` and ``signature``) and ``redacted_thinking``
    (``redacted`` with its opaque ``data``); OpenAI's Responses ``reasoning`` items (``id``,
    ``summary``, ``encrypted_content``). Its signatures bind it to ``provider``: a rendering
    for another provider leaves it out, and says so.
    """

    type: Literal["reasoning"] = "reasoning"
    provider: Identifier
    id: Identifier | None = None
    summary: tuple[Text, ...] = ()
    text: Text | None = None
    signature: Text | None = None
    encrypted_content: Text | None = None
    redacted: StrictBool = False
    data: Text | None = None
    """A redacted block's opaque data."""

    def _check_part(self) -> None:
        check_texts({f"summary.{i}": text for i, text in enumerate(self.summary)})
        if self.redacted and self.data is None:
            raise InvalidMessage("data", "is required on redacted reasoning")
        if not self.redacted and self.data is not None:
            raise InvalidMessage("data", "is only kept on redacted reasoning")

    def text_of(self) -> str:
        return self.text if self.text is not None else "\n".join(self.summary)


Part = Annotated[
    TextPart | ImagePart | FilePart | AudioPart | RefusalPart | ReasoningPart,
    Field(discriminator="type"),
]
"""One content part, told apart by its ``type``."""

PART_TYPES: dict[str, type[_Part]] = {
    "text": TextPart,
    "image": ImagePart,
    "file": FilePart,
    "audio": AudioPart,
    "refusal": RefusalPart,
    "reasoning": ReasoningPart,
}

ROLE_PARTS: dict[str, frozenset[str]] = {
    "system": frozenset({"text"}),
    "developer": frozenset({"text"}),
    "user": frozenset({"text", "image", "file", "audio"}),
    "assistant": frozenset({"text", "image", "file", "audio", "refusal", "reasoning"}),
    "tool": frozenset({"text", "image", "file"}),
}
"""The kinds of part each role may hold: what some provider sends in that role."""


def compact(part: _Part) -> dict[str, Any]:
    """The part as stored and digested: its type and every field not at its default."""
    data = part.model_dump(mode="json", exclude_defaults=True)
    data["type"] = part.type
    return data


def decoded_size(data: str) -> int:
    """The bytes a base64 text decodes to, without decoding it."""
    padding = len(data) - len(data.rstrip("="))
    return len(data) * 3 // 4 - padding
