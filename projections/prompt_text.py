"""Memory as prompt text: a view rendered into one system prompt through a template.

For models and APIs that take memory inside the system prompt rather than as messages. The
template holds ``{instructions}`` (the current system prompt's text) and ``{memory}`` (every
other message of the view, oldest first, one role-prefixed line each, tool exchanges
included); ``{{`` and ``}}`` are literal braces.
"""

from __future__ import annotations

from collections.abc import Sequence

from chatledger.domain import InvalidInput, Message, ReasoningPart, RefusalPart, TextPart
from chatledger.domain.policies import check_template

DEFAULT_PROMPT_TEMPLATE = """{instructions}

The conversation so far, oldest first:
---
{memory}
---"""
"""The template ``MemoryView.as_prompt_text`` uses unless given one."""
PROMPT_FIELDS = frozenset({"instructions", "memory"})
_CONTINUATION = "\n  "
"""Later lines of a message are indented, so every unindented line starts with a role."""


def check_prompt_template(template: object) -> str:
    """The template, if it holds ``{instructions}`` and ``{memory}`` and nothing else; else
    InvalidInput naming ``template``."""
    try:
        return check_template(template, PROMPT_FIELDS, required=("instructions", "memory"))
    except ValueError as exc:
        raise InvalidInput("template", str(exc)) from None


def render(template: str, instructions: Message | None, messages: Sequence[Message]) -> str:
    """``template`` filled with the instructions' text and the messages as lines, stripped."""
    check_prompt_template(template)
    memory = "\n".join(line(message) for message in messages)
    text = "" if instructions is None else (instructions.text or "")
    return template.format(instructions=text, memory=memory).strip()


def line(message: Message) -> str:
    """One message as a role-prefixed line: ``user: ...``, ``assistant -> f(args) [id]``,
    ``tool [id]: ...``."""
    speaker = message.role if message.name is None else f"{message.role} ({message.name})"
    if message.role == "tool":
        speaker = f"tool [{message.tool_call_id}]"
    lines = []
    content = _content(message)
    if content or not message.tool_calls:
        lines.append(f"{speaker}: {content}")
    lines += [
        f"{speaker} -> {call.name}({call.arguments}) [{call.id}]" for call in message.tool_calls
    ]
    return "\n".join(entry.replace("\n", _CONTINUATION) for entry in lines)


def _content(message: Message) -> str:
    """The message's content as text: text parts as they are, other parts named in brackets."""
    pieces: list[str] = []
    for part in message.parts:
        if isinstance(part, TextPart):
            pieces.append(part.text)
        elif isinstance(part, RefusalPart):
            pieces.append(f"[refusal: {part.refusal}]")
        elif not isinstance(part, ReasoningPart):  # the model's working is not what was said
            name = getattr(part, "filename", None)
            pieces.append(f"[{part.type}: {name}]" if name else f"[{part.type}]")
    return "\n".join(pieces)
