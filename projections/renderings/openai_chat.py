"""Messages as an OpenAI Chat Completions ``messages`` list.

Within its own shape the rendering gives back what was imported, but for these (documented)
normalisations: fields sent as null are left out; an assistant message with no content says
``content: null``; a refusal renders as the message's ``refusal`` field, and text beside it as
a string; a response's fields no request takes are left out (``annotations``, and ``audio``
but for its ``id``), and listed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal, NotRequired, cast

from pydantic import ConfigDict, with_config
from typing_extensions import TypedDict  # pydantic reads these as schemas only from here on 3.11

from chatledger.domain import AttachmentResolver, Message, ToolCall
from chatledger.domain.imports import RESPONSE_ONLY_FIELDS
from chatledger.domain.parts import (
    AudioPart,
    FilePart,
    ImagePart,
    Part,
    ReasoningPart,
    RefusalPart,
    TextPart,
)
from chatledger.projections.renderings.common import (
    Renderer,
    Rendering,
    merged,
    positions_of,
)

if TYPE_CHECKING:
    from openai.types.chat import ChatCompletionMessageParam


class OpenAIFunction(TypedDict):
    """The function a tool call names, with its arguments as JSON text."""

    name: str
    arguments: str


@with_config(ConfigDict(extra="allow"))
class OpenAIToolCall(TypedDict):
    """One tool call on an assistant message (a custom tool's has ``custom`` instead)."""

    id: str
    type: Literal["function", "custom"]
    function: NotRequired[OpenAIFunction]


@with_config(ConfigDict(extra="allow"))
class OpenAIMessage(TypedDict):
    """One Chat Completions message; which keys appear depends on the role.

    ``content`` is text, or content parts (``text``, ``image_url``, ``input_audio``, ``file``,
    ``refusal``); fields a provider added that chatledger does not model come through as well.
    """

    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[dict[str, Any]] | None
    name: NotRequired[str]
    refusal: NotRequired[str]
    tool_calls: NotRequired[list[OpenAIToolCall]]
    tool_call_id: NotRequired[str]


def render_openai(
    messages: Sequence[Message],
    *,
    positions: Sequence[int] | None = None,
    resolve: AttachmentResolver | None = None,
) -> Rendering[list[OpenAIMessage]]:
    """The messages as a Chat Completions ``messages`` list, and what it left out."""
    renderer = _ChatRenderer(resolve)
    rendered = [
        renderer.message(message, position)
        for message, position in zip(messages, positions_of(messages, positions), strict=True)
    ]
    return Rendering("openai", rendered, tuple(renderer.omitted))


def openai_messages(
    messages: Sequence[Message], *, resolve: AttachmentResolver | None = None
) -> list[OpenAIMessage]:
    """The messages as a Chat Completions ``messages`` list, in chatledger's types."""
    return render_openai(messages, resolve=resolve).payload


def to_openai(
    messages: Sequence[Message], *, resolve: AttachmentResolver | None = None
) -> list[ChatCompletionMessageParam]:
    """The messages as a Chat Completions ``messages`` list, typed as the SDK's."""
    # The same dicts: the renderer builds exactly the SDK's message shapes (tested).
    return cast("list[ChatCompletionMessageParam]", openai_messages(messages, resolve=resolve))


class _ChatRenderer(Renderer):
    provider = "openai"

    def message(self, message: Message, position: int) -> OpenAIMessage:
        rendered: dict[str, Any] = {"role": message.role}
        if message.role == "assistant":
            rendered.update(self._assistant_content(message, position))
        elif isinstance(message.content, tuple):
            rendered["content"] = self._parts(message, position) or ""
        else:
            rendered["content"] = message.content or ""
        if message.name is not None:
            rendered["name"] = message.name
        if message.tool_calls:
            rendered["tool_calls"] = [
                self._call(message, call, position, index)
                for index, call in enumerate(message.tool_calls)
            ]
        if message.tool_call_id is not None:
            rendered["tool_call_id"] = message.tool_call_id
        extra = self.extra(message, message.extra, position, "")
        return cast(OpenAIMessage, merged(rendered, self._requested(extra, position)))

    def _requested(self, extra: dict[str, Any], position: int) -> dict[str, Any]:
        """A response's message fields without those no request takes, which are listed."""
        if not extra:
            return extra
        kept = dict(extra)
        for key in RESPONSE_ONLY_FIELDS & kept.keys():
            if kept.pop(key) not in (None, [], {}):
                self.omit(position, f"extra.{key}", "extra", "a response field no request takes")
        audio = kept.get("audio")
        if isinstance(audio, dict) and audio.keys() - {"id"}:
            # A request names the response's audio by id alone.
            kept.pop("audio")
            if "id" in audio:
                kept["audio"] = {"id": audio["id"]}
            for key in sorted(audio.keys() - {"id"}):
                self.omit(
                    position, f"extra.audio.{key}", "extra", "a response field no request takes"
                )
        return kept

    def _assistant_content(self, message: Message, position: int) -> dict[str, Any]:
        if not isinstance(message.content, tuple):
            content = message.content
            # Only an assistant message that calls tools (or, as imported, speaks) may go
            # without content.
            if content is None and not message.tool_calls and not self.own(message):
                content = ""
            return {"content": content}
        parts = self._parts(message, position)
        out: dict[str, Any] = {}
        refusals = [part for part in parts if part["type"] == "refusal"]
        if len(refusals) == 1 and parts[-1] is refusals[0]:
            out["refusal"] = parts.pop()["refusal"]
            if len(parts) == 1 and parts[0].keys() == {"type", "text"}:
                out["content"] = parts[0]["text"]
                return out
        out["content"] = parts or None
        return out

    def _parts(self, message: Message, position: int) -> list[dict[str, Any]]:
        rendered: list[dict[str, Any]] = []
        for index, part in enumerate(message.parts):
            field = f"content.{index}"
            block = self._part(message, part, position, field)
            if block is not None:
                extra = self.extra(message, part.extra, position, f"{field}.extra")
                rendered.append(merged(block, extra))
        return rendered

    def _part(
        self, message: Message, part: Part, position: int, field: str
    ) -> dict[str, Any] | None:
        role = message.role
        if isinstance(part, TextPart):
            return {"type": "text", "text": part.text}
        if isinstance(part, RefusalPart) and role == "assistant":
            return {"type": "refusal", "refusal": part.refusal}
        if isinstance(part, ReasoningPart):
            self.omit(position, field, part.type, "Chat Completions takes no reasoning back")
            return None
        if role != "user":
            self.omit(position, field, part.type, f"a {role} message here holds text only")
            return None
        if isinstance(part, ImagePart):
            return self._image(message, part, position, field)
        if isinstance(part, FilePart):
            return self._file(message, part, position, field)
        assert isinstance(part, AudioPart)  # what a user message may hold, besides the above
        audio = {"data": self.base64(part, position, field), "format": part.format}
        return {"type": "input_audio", "input_audio": audio}

    def _image(
        self, message: Message, part: ImagePart, position: int, field: str
    ) -> dict[str, Any] | None:
        url = self.data_url(part, position, field)
        if url is None:
            self.omit(position, field, part.type, "Chat Completions takes no image by file id")
            return None
        image: dict[str, Any] = {"url": url}
        if part.detail is not None:
            image["detail"] = part.detail
        return {"type": "image_url", "image_url": image}

    def _file(
        self, message: Message, part: FilePart, position: int, field: str
    ) -> dict[str, Any] | None:
        file: dict[str, Any] = {}
        if part.text is not None:
            self.omit(position, field, part.type, "sent as text: Chat Completions files are PDFs")
            return {"type": "text", "text": part.text}
        if part.url is not None:
            self.omit(position, field, part.type, "Chat Completions takes no file by URL")
            return None
        if part.file_id is not None:
            if not self.same_files(message):
                self.omit(position, field, part.type, "a file id another provider issued")
                return None
            file["file_id"] = part.file_id
        else:
            file["file_data"] = self.data_url(part, position, field)
        if part.filename is not None:
            file["filename"] = part.filename
        return {"type": "file", "file": file}

    def _call(self, message: Message, call: ToolCall, position: int, index: int) -> dict[str, Any]:
        field = f"tool_calls.{index}"
        if call.item_id is not None and not self.own(message):
            self.omit(position, f"{field}.item_id", "item_id", "a Responses item id")
        extra = self.extra(message, call.extra, position, f"{field}.extra")
        if extra.get("type") == "custom":
            custom = {"name": call.name, "input": call.arguments}
            return merged({"id": call.id, "type": "custom", "custom": custom}, extra)
        function = {"name": call.name, "arguments": call.arguments}
        return merged({"id": call.id, "type": "function", "function": function}, extra)
