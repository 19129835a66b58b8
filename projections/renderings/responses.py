"""Messages as OpenAI Responses ``input`` items.

An assistant message becomes its items again: reasoning and message items in the order of
its parts, then a ``function_call`` per tool call; a tool message a ``function_call_output``.
Within its own shape the rendering gives back what was imported, but for these (documented)
normalisations: fields sent as null are left out; message items say ``"type": "message"``;
an image in a message says its ``detail`` (``auto`` when none was given, as the request type
requires) and an ``output_text`` its ``annotations`` (``[]`` when none came).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, cast

from chatledger.domain import AttachmentResolver, Message, ToolCall
from chatledger.domain.imports import default_text_type
from chatledger.domain.parts import (
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
    from openai.types.responses import ResponseInputItemParam

ResponsesItem = dict[str, Any]
"""One Responses input item: a message, a function call, its output, or reasoning."""


def render_responses(
    messages: Sequence[Message],
    *,
    positions: Sequence[int] | None = None,
    resolve: AttachmentResolver | None = None,
) -> Rendering[list[ResponsesItem]]:
    """The messages as Responses ``input`` items, and what they left out."""
    renderer = _ResponsesRenderer(resolve)
    items: list[ResponsesItem] = []
    for message, position in zip(messages, positions_of(messages, positions), strict=True):
        items += renderer.items(message, position)
    return Rendering("responses", items, tuple(renderer.omitted))


def to_responses(
    messages: Sequence[Message], *, resolve: AttachmentResolver | None = None
) -> list[ResponseInputItemParam]:
    """The messages as Responses ``input`` items, typed as the SDK's."""
    # The same dicts: the renderer builds exactly the SDK's item shapes (tested).
    items = render_responses(messages, resolve=resolve).payload
    return cast("list[ResponseInputItemParam]", items)


class _ResponsesRenderer(Renderer):
    provider = "responses"

    def items(self, message: Message, position: int) -> list[ResponsesItem]:
        if message.name is not None:
            self.omit(position, "name", "name", "Responses messages have no name")
        if message.role == "tool":
            return [self._output(message, position)]
        if message.role != "assistant":
            content = self._content(message, position)
            if content == [] and message.content:
                return []  # every part was left out (and listed): no empty message
            return [self._message(message, position, content)]
        items = self._assistant(message, position)
        items += [
            self._call(message, call, position, index)
            for index, call in enumerate(message.tool_calls)
        ]
        return items

    def _message(self, message: Message, position: int, content: Any) -> ResponsesItem:
        rendered = {"type": "message", "role": message.role, "content": content}
        return merged(rendered, self.extra(message, message.extra, position, ""))

    def _content(self, message: Message, position: int) -> str | list[dict[str, Any]]:
        if not isinstance(message.content, tuple):
            return message.content or ""
        parts = []
        for index, part in enumerate(message.content):
            block = self._input_part(message, part, position, f"content.{index}", in_message=True)
            if block is not None:
                parts.append(block)
        return parts

    def _assistant(self, message: Message, position: int) -> list[ResponsesItem]:
        """Reasoning and message items in the order of the parts."""
        if message.content is None and self.own(message) and message.extra:
            return [self._message(message, position, [])]  # an item that held no content
        if not isinstance(message.content, tuple):
            if not message.content and message.tool_calls:
                return []
            return [self._message(message, position, message.content or "")]
        items: list[ResponsesItem] = []
        run: list[tuple[int, Part]] = []
        placed = False
        for index, part in enumerate(message.content):
            if not isinstance(part, ReasoningPart):
                run.append((index, part))
                continue
            if run:
                items.append(self._output_message(message, run, position))
                run, placed = [], True
            reasoning = self._reasoning(message, part, position, f"content.{index}")
            if reasoning is not None:
                items.append(reasoning)
        if run or (not placed and self.own(message) and message.extra):
            items.append(self._output_message(message, run, position))
        return items

    def _output_message(
        self, message: Message, run: list[tuple[int, Part]], position: int
    ) -> ResponsesItem:
        if not self.own(message):
            # With no output item id of its own, the text goes as the easy form's string.
            texts = []
            for index, part in run:
                field = f"content.{index}"
                if isinstance(part, TextPart):
                    texts.append(part.text)
                elif isinstance(part, RefusalPart):
                    self.omit(position, field, part.type, "sent as text: no output item to hold it")
                    texts.append(part.refusal)
                else:
                    self.omit(position, field, part.type, "an assistant message here holds text")
                self.extra(message, part.extra, position, f"{field}.extra")
            return self._message(message, position, "\n".join(texts))
        content = []
        for index, part in run:
            field = f"content.{index}"
            if isinstance(part, TextPart):
                block: dict[str, Any] = {"type": "output_text", "text": part.text}
            elif isinstance(part, RefusalPart):
                block = {"type": "refusal", "refusal": part.refusal}
            else:
                self.omit(position, field, part.type, "an assistant message here holds text")
                continue
            block = merged(block, part.extra)
            if block["type"] == "output_text":
                block.setdefault("annotations", [])
            content.append(block)
        return self._message(message, position, content)

    def _reasoning(
        self, message: Message, part: ReasoningPart, position: int, field: str
    ) -> ResponsesItem | None:
        if part.provider != "openai":
            self.omit(position, field, part.type, f"reasoning {part.provider} signed for itself")
            return None
        if part.id is None:
            self.omit(position, field, part.type, "Responses reasoning needs its item id")
            return None
        item: ResponsesItem = {"type": "reasoning", "id": part.id}
        item["summary"] = [{"type": "summary_text", "text": text} for text in part.summary]
        if part.text is not None:
            item["content"] = [{"type": "reasoning_text", "text": part.text}]
        if part.encrypted_content is not None:
            item["encrypted_content"] = part.encrypted_content
        return merged(item, self.extra(message, part.extra, position, f"{field}.extra"))

    def _input_part(
        self, message: Message, part: Part, position: int, field: str, *, in_message: bool
    ) -> dict[str, Any] | None:
        block = self._input_block(message, part, position, field, in_message=in_message)
        if block is None:
            return None
        return merged(block, self.extra(message, part.extra, position, f"{field}.extra"))

    def _input_block(
        self, message: Message, part: Part, position: int, field: str, *, in_message: bool
    ) -> dict[str, Any] | None:
        if isinstance(part, TextPart):
            return {"type": default_text_type(message.role), "text": part.text}
        if isinstance(part, ImagePart):
            image: dict[str, Any] = {"type": "input_image"}
            if part.file_id is not None:
                if not self.same_files(message):
                    self.omit(position, field, part.type, "a file id another provider issued")
                    return None
                image["file_id"] = part.file_id
            else:
                image["image_url"] = self.data_url(part, position, field)
            if part.detail is not None or in_message:
                image["detail"] = part.detail or "auto"
            return image
        if isinstance(part, FilePart):
            return self._file(message, part, position, field)
        self.omit(position, field, part.type, f"Responses takes no {part.type} here")
        return None

    def _file(
        self, message: Message, part: FilePart, position: int, field: str
    ) -> dict[str, Any] | None:
        if part.text is not None:
            self.omit(position, field, part.type, "sent as text: Responses files are PDFs")
            return {"type": "input_text", "text": part.text}
        file: dict[str, Any] = {"type": "input_file"}
        if part.file_id is not None:
            if not self.same_files(message):
                self.omit(position, field, part.type, "a file id another provider issued")
                return None
            file["file_id"] = part.file_id
        elif part.url is not None:
            file["file_url"] = part.url
        else:
            file["file_data"] = self.data_url(part, position, field)
        if part.filename is not None:
            file["filename"] = part.filename
        return file

    def _call(self, message: Message, call: ToolCall, position: int, index: int) -> ResponsesItem:
        item: ResponsesItem = {"type": "function_call", "call_id": call.id, "name": call.name}
        item["arguments"] = call.arguments
        if call.item_id is not None:
            item["id"] = call.item_id
        extra = self.extra(message, call.extra, position, f"tool_calls.{index}.extra")
        return merged(item, extra)

    def _output(self, message: Message, position: int) -> ResponsesItem:
        item: ResponsesItem = {"type": "function_call_output", "call_id": message.tool_call_id}
        if isinstance(message.content, tuple):
            output = []
            for index, part in enumerate(message.content):
                field = f"content.{index}"
                block = self._input_part(message, part, position, field, in_message=False)
                if block is not None:
                    output.append(block)
            item["output"] = output
        else:
            item["output"] = message.content or ""
        return merged(item, self.extra(message, message.extra, position, ""))
