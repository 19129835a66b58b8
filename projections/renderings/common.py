"""What the provider renderings share: the rendering and its omissions, extras, inline bytes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict

from chatledger.domain import AttachmentResolver, AttachmentUnavailable, Format, Message
from chatledger.domain.parts import AudioPart, FilePart, ImagePart

Payload = TypeVar("Payload")

PROVIDER_NAMES: dict[Format, str] = {
    "openai": "Chat Completions",
    "responses": "Responses",
    "anthropic": "Anthropic Messages",
}
_FILE_FAMILIES: dict[Format, str] = {
    "openai": "openai",
    "responses": "openai",
    "anthropic": "anthropic",
}


class Omission(BaseModel):
    """Something a rendering left out, or carried as something else, and why."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    position: int
    """The message's history position (in a memory view's rendering) or its index in the list."""
    field: str
    """Where in the message: ``content.2`` (a part), ``tool_calls.0.extra.status``, ``name``."""
    kind: str
    """What it is: a part's type (``reasoning``, ``audio``...), ``extra``, or the field's name."""
    reason: str


@dataclass(frozen=True)
class Rendering(Generic[Payload]):
    """A provider's request data for some messages, and what could not be carried as it was."""

    provider: Format
    payload: Payload
    """The request data, ready for the provider's SDK: plain JSON data in its shapes."""
    omitted: tuple[Omission, ...]
    """Everything left out or converted, in message order: never dropped in silence."""


def merged(rendered: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """``rendered`` with a provider's own fields laid over it, nested objects field by field."""
    if not extra:
        return rendered
    out = dict(rendered)
    for key, value in extra.items():
        current = out.get(key)
        if isinstance(value, dict) and isinstance(current, dict):
            out[key] = merged(current, value)
        else:
            out[key] = value
    return out


class Renderer:
    """One rendering under way: the provider, the omissions so far, how to read attachments."""

    provider: Format

    def __init__(self, resolve: AttachmentResolver | None) -> None:
        self.resolve = resolve
        self.omitted: list[Omission] = []

    @property
    def name(self) -> str:
        """The provider's API, as the reasons name it."""
        return PROVIDER_NAMES[self.provider]

    def omit(self, position: int, field: str, kind: str, reason: str) -> None:
        """Note that ``field`` of the message at ``position`` was left out or converted."""
        self.omitted.append(Omission(position=position, field=field, kind=kind, reason=reason))

    def own(self, message: Message) -> bool:
        """Whether the message was imported in this renderer's shape, so its extras apply."""
        return message.format == self.provider

    def extra(
        self, message: Message, extra: dict[str, Any], position: int, field: str
    ) -> dict[str, Any]:
        """The provider fields to lay over a rendered object: its extras if they are ours.

        Extras of another shape are listed, unless empty: a null, ``[]`` or ``{}`` says nothing.
        """
        if not extra or self.own(message):
            return extra
        for key, value in extra.items():
            if value not in (None, [], {}):
                self.omit(
                    position,
                    f"{field}.{key}" if field else f"extra.{key}",
                    "extra",
                    f"a field of the {message.format} shape, which {self.name} has no place for",
                )
        return {}

    def same_files(self, message: Message) -> bool:
        """Whether a file id the message names is one this provider's files API issued."""
        return message.format is not None and (
            _FILE_FAMILIES[message.format] == _FILE_FAMILIES[self.provider]
        )

    def base64(self, part: ImagePart | FilePart | AudioPart, position: int, field: str) -> str:
        """The part's bytes as base64: inline, or read through the resolver."""
        if part.data is not None:
            return part.data
        assert part.attachment is not None  # a binary part holds data or an attachment
        if self.resolve is None:
            raise AttachmentUnavailable(position, field, part.attachment.digest)
        return self.resolve(part.attachment.digest)

    def media_type(self, part: ImagePart | FilePart | AudioPart) -> str | None:
        """The part's media type, the attachment's when it is stored apart."""
        if part.media_type is not None:
            return part.media_type
        return part.attachment.media_type if part.attachment is not None else None

    def data_url(self, part: ImagePart | FilePart, position: int, field: str) -> str | None:
        """The part's bytes as a data URL, or its URL; None if it has neither."""
        if part.url is not None:
            return part.url
        if part.data is None and part.attachment is None:
            return None
        data = self.base64(part, position, field)
        media_type = self.media_type(part)
        return data if media_type is None else f"data:{media_type};base64,{data}"


def positions_of(messages: Sequence[Message], positions: Sequence[int] | None) -> Sequence[int]:
    """The positions omissions name: the given ones, or each message's index."""
    return range(len(messages)) if positions is None else positions
