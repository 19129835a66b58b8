"""Messages as Anthropic Messages ``system`` and ``messages``.

The instruction (system or developer) goes apart as ``system``; tool calls become
``tool_use`` blocks and their results ``tool_result`` blocks in a user turn; consecutive
messages of one side merge into one turn, and a user turn with ``first_user_text`` is put
first when the messages start with the assistant. Within its own shape the rendering gives
back what was imported, but for these (documented) normalisations: fields sent as null are
left out; consecutive turns of one role come back as one turn (a user turn's tool results
first, as the API wants them); a response's own fields (``id``, ``model``, ``usage``...) are
left out, and listed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, NotRequired, cast

from pydantic import ConfigDict, with_config
from typing_extensions import TypedDict  # pydantic reads these as schemas only from here on 3.11

from chatledger.domain import AttachmentResolver, Message, ToolCall
from chatledger.domain.parts import (
    FilePart,
    ImagePart,
    Part,
    ReasoningPart,
    RefusalPart,
    TextPart,
)
from chatledger.projections.renderings.arguments import tool_input
from chatledger.projections.renderings.common import (
    Renderer,
    Rendering,
    merged,
    positions_of,
)

if TYPE_CHECKING:
    from anthropic.types import MessageParam, TextBlockParam

ANTHROPIC_FIRST_USER_TEXT = "(continuing the conversation)"
"""The text of the user turn put before a view that starts with the assistant: Anthropic's
Messages API wants the first turn to be a user turn. Use ``start_on_user=True`` to avoid it."""


@with_config(ConfigDict(extra="allow"))
class AnthropicBlock(TypedDict):
    """A content block; its keys follow ``type`` (``text``, ``image``, ``document``,
    ``thinking``, ``redacted_thinking``, ``tool_use``, ``tool_result``)."""

    type: str
    text: NotRequired[str]
    id: NotRequired[str]
    name: NotRequired[str]
    input: NotRequired[dict[str, Any]]
    tool_use_id: NotRequired[str]
    content: NotRequired[str | list[dict[str, Any]]]


class AnthropicMessage(TypedDict):
    """One turn of an Anthropic Messages request."""

    role: Literal["user", "assistant"]
    content: str | list[AnthropicBlock]


class AnthropicRequest(TypedDict):
    """The ``system`` and ``messages`` parameters of an Anthropic Messages request."""

    system: str | list[AnthropicBlock] | None
    messages: list[AnthropicMessage]


class AnthropicParams(TypedDict):
    """``system`` and ``messages`` of an Anthropic Messages request, as the SDK types them."""

    system: str | list[TextBlockParam] | None
    messages: list[MessageParam]


def render_anthropic(
    messages: Sequence[Message],
    *,
    positions: Sequence[int] | None = None,
    resolve: AttachmentResolver | None = None,
    first_user_text: str = ANTHROPIC_FIRST_USER_TEXT,
) -> Rendering[AnthropicRequest]:
    """The messages as Anthropic ``system`` and ``messages``, and what they left out."""
    renderer = _AnthropicRenderer(resolve)
    system: str | list[AnthropicBlock] | None = None
    turns: list[_Turn] = []
    for message, position in zip(messages, positions_of(messages, positions), strict=True):
        if message.is_instruction:
            system = renderer.system(message, position)
            continue
        blocks = renderer.blocks(message, position)
        if not blocks:
            continue
        role: Literal["user", "assistant"] = "assistant" if message.role == "assistant" else "user"
        if turns and turns[-1].role == role:
            turns[-1].add(message, blocks)
        else:
            turns.append(_Turn(role, [message], blocks))
    rendered = [turn.rendered(renderer) for turn in turns]
    if rendered and rendered[0]["role"] == "assistant":
        rendered.insert(0, {"role": "user", "content": [{"type": "text", "text": first_user_text}]})
    request: AnthropicRequest = {"system": system, "messages": rendered}
    return Rendering("anthropic", request, tuple(renderer.omitted))


def anthropic_request(
    messages: Sequence[Message],
    *,
    first_user_text: str = ANTHROPIC_FIRST_USER_TEXT,
    resolve: AttachmentResolver | None = None,
) -> AnthropicRequest:
    """The messages as Anthropic Messages ``system`` and ``messages``, in chatledger's types."""
    return render_anthropic(messages, resolve=resolve, first_user_text=first_user_text).payload


def to_anthropic(
    messages: Sequence[Message],
    *,
    first_user_text: str = ANTHROPIC_FIRST_USER_TEXT,
    resolve: AttachmentResolver | None = None,
) -> AnthropicParams:
    """The messages as Anthropic Messages ``system`` and ``messages``, typed as the SDK's."""
    # The same dicts: the renderer builds exactly the SDK's message shapes (tested).
    rendered = anthropic_request(messages, first_user_text=first_user_text, resolve=resolve)
    return cast("AnthropicParams", rendered)


@dataclass
class _Turn:
    role: Literal["user", "assistant"]
    messages: list[Message]
    blocks: list[AnthropicBlock] = field(default_factory=list)

    def add(self, message: Message, blocks: list[AnthropicBlock]) -> None:
        self.messages.append(message)
        self.blocks += blocks

    def rendered(self, renderer: _AnthropicRenderer) -> AnthropicMessage:
        only = self.messages[0] if len(self.messages) == 1 else None
        if (
            only is not None
            and renderer.own(only)
            and isinstance(only.content, str)
            and only.role != "tool"
            and not only.tool_calls
        ):
            # A turn of text alone came as text; blocks only say the same at more length.
            return {"role": self.role, "content": only.content}
        return {"role": self.role, "content": self.blocks}


class _AnthropicRenderer(Renderer):
    provider = "anthropic"

    def system(self, message: Message, position: int) -> str | list[AnthropicBlock] | None:
        if isinstance(message.content, tuple) and self.own(message):
            return [
                cast(AnthropicBlock, merged({"type": "text", "text": p.text_of()}, p.extra))
                for p in message.content
            ]
        for index, part in enumerate(message.parts):
            self.extra(message, part.extra, position, f"content.{index}.extra")
        self._message_fields(message, position)
        return message.text

    def blocks(self, message: Message, position: int) -> list[AnthropicBlock]:
        self._message_fields(message, position)
        if message.role == "tool":
            return [self._result(message, position)]
        blocks = self._content(message, position)
        for index, call in enumerate(message.tool_calls):
            blocks.append(self._call(message, call, position, index))
        return blocks

    def _message_fields(self, message: Message, position: int) -> None:
        """List the message's own fields no turn holds (a tool message's are its block's)."""
        if message.name is not None:
            self.omit(position, "name", "name", "Anthropic messages have no name")
        if message.role == "tool":
            return
        if not self.own(message):
            self.extra(message, message.extra, position, "")
            return
        for key, value in message.extra.items():
            if value not in (None, [], {}):
                self.omit(position, f"extra.{key}", "extra", "a response field no request takes")

    def _content(self, message: Message, position: int) -> list[AnthropicBlock]:
        if not isinstance(message.content, tuple):
            # Anthropic rejects empty text blocks.
            return [{"type": "text", "text": message.content}] if message.content else []
        blocks: list[AnthropicBlock] = []
        for index, part in enumerate(message.content):
            field = f"content.{index}"
            block = self._block(message, part, position, field)
            if block is not None:
                extra = self.extra(message, part.extra, position, f"{field}.extra")
                blocks.append(cast(AnthropicBlock, merged(block, extra)))
        return blocks

    def _block(
        self, message: Message, part: Part, position: int, field: str
    ) -> dict[str, Any] | None:
        if isinstance(part, TextPart):
            if not part.text and not self.own(message):
                return None  # Anthropic rejects empty text blocks.
            return {"type": "text", "text": part.text}
        if isinstance(part, RefusalPart):
            self.omit(position, field, part.type, "sent as text: Anthropic has no refusal block")
            return {"type": "text", "text": part.refusal}
        if isinstance(part, ReasoningPart):
            return self._thinking(part, position, field)
        if message.role == "assistant":
            self.omit(position, field, part.type, "an assistant turn holds no " + part.type)
            return None
        if isinstance(part, ImagePart):
            return self._image(message, part, position, field)
        if isinstance(part, FilePart):
            return self._document(message, part, position, field)
        self.omit(position, field, part.type, "Anthropic takes no audio")
        return None

    def _thinking(self, part: ReasoningPart, position: int, field: str) -> dict[str, Any] | None:
        if part.provider != "anthropic":
            self.omit(position, field, part.type, f"reasoning {part.provider} signed for itself")
            return None
        if part.redacted:
            return {"type": "redacted_thinking", "data": part.data}
        if part.signature is None:
            self.omit(position, field, part.type, "Anthropic thinking needs its signature")
            return None
        return {"type": "thinking", "thinking": part.text_of(), "signature": part.signature}

    def _image(
        self, message: Message, part: ImagePart, position: int, field: str
    ) -> dict[str, Any] | None:
        source = self._source(message, part, position, field)
        if source is None:
            return None
        if part.detail is not None:
            self.omit(position, f"{field}.detail", "detail", "Anthropic images have no detail")
        return {"type": "image", "source": source}

    def _document(
        self, message: Message, part: FilePart, position: int, field: str
    ) -> dict[str, Any] | None:
        source: dict[str, Any] | None
        if part.text is not None:
            media_type = part.media_type or "text/plain"
            source = {"type": "text", "media_type": media_type, "data": part.text}
        else:
            source = self._source(message, part, position, field)
        if source is None:
            return None
        document = {"type": "document", "source": source}
        if part.filename is not None and not self.own(message):
            document["title"] = part.filename
        return document

    def _source(
        self, message: Message, part: ImagePart | FilePart, position: int, field: str
    ) -> dict[str, Any] | None:
        if part.file_id is not None:
            if not self.same_files(message):
                self.omit(position, field, part.type, "a file id another provider issued")
                return None
            return {"type": "file", "file_id": part.file_id}
        if part.url is not None:
            return {"type": "url", "url": part.url}
        media_type = self.media_type(part)
        if media_type is None:
            self.omit(position, field, part.type, "Anthropic needs the media type of the data")
            return None
        data = self.base64(part, position, field)
        return {"type": "base64", "media_type": media_type, "data": data}

    def _result(self, message: Message, position: int) -> AnthropicBlock:
        result: dict[str, Any] = {"type": "tool_result", "tool_use_id": message.tool_call_id}
        content: str | list[AnthropicBlock] | None
        if isinstance(message.content, tuple):
            content = self._content(message, position) or None
        else:
            content = message.content
        if content or (content == "" and self.own(message)):
            result["content"] = content
        extra = self.extra(message, message.extra, position, "")
        return cast(AnthropicBlock, merged(result, extra))

    def _call(self, message: Message, call: ToolCall, position: int, index: int) -> AnthropicBlock:
        field = f"tool_calls.{index}"
        if call.item_id is not None:
            self.omit(position, f"{field}.item_id", "item_id", "a Responses item id")
        block: dict[str, Any] = {"type": "tool_use", "id": call.id, "name": call.name}
        block["input"] = tool_input(call.arguments)
        extra = self.extra(message, call.extra, position, f"{field}.extra")
        return cast(AnthropicBlock, merged(block, extra))
