"""How history and memory look in a terminal: rich tables and cells, shared by the CLI and demo."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text

from chatledger.domain import (
    AudioPart,
    FilePart,
    ImagePart,
    Message,
    Part,
    ReasoningPart,
    RefusalPart,
    TextPart,
)
from chatledger.domain.parts import decoded_size
from chatledger.projections import HistoryEntry, MemoryView, Policy, SummaryWindow, TokenWindow

ROLE_STYLES = {
    "system": "magenta",
    "developer": "magenta",
    "user": "cyan",
    "assistant": "green",
    "tool": "yellow",
}
PREVIEW_CHARACTERS = 240
"""Longer content is cut before rich lays it out, so huge messages never slow a table down."""


def memory_table(view: MemoryView, *, title: str) -> Table:
    """The memory view as a table whose footer is the request's token total."""
    table = Table("#", "role", "name", "content", "tools", "tokens", title=title, show_footer=True)
    style_columns(table)
    count = len(view.entries)
    table.columns[
        3
    ].footer = f"{count} message{'' if count == 1 else 's'}, at position {view.position}"
    table.columns[4].footer = "request total"
    table.columns[5].footer = str(view.tokens)
    if view.over_budget:
        table.caption = Text(
            f"over budget: the system prompt alone makes a {view.tokens}-token request, past "
            f"{describe(view.policy)}; it is shown alone",
            style="bold red",
        )
    # The summary comes right after the system prompt, as the model is sent it.
    split = 1 if view.entries and view.entries[0].message.is_instruction else 0
    for index, entry in enumerate(view.entries):
        if view.summary is not None and index == split:
            table.add_row(*summary_cells(view))
        table.add_row(
            str(entry.position),
            role_cell(entry),
            Text(entry.message.name or ""),
            content_cell(entry),
            tools_cell(entry.message),
            str(entry.tokens),
        )
    if view.summary is not None and len(view.entries) <= split:
        table.add_row(*summary_cells(view))
    return table


def summary_cells(view: MemoryView) -> list[str | Text]:
    """The row of the summary a view shows: what it covers and stands for."""
    assert view.summary is not None
    summary = view.summary
    text = " ".join((summary.message.text or "").split())
    if len(text) > PREVIEW_CHARACTERS:
        text = text[: PREVIEW_CHARACTERS - 1] + "…"
    return [
        f"1-{summary.covers}",
        Text(summary.message.role, style=ROLE_STYLES.get(summary.message.role, "")),
        Text(f"summary #{summary.number}", style="italic"),
        Text(text, no_wrap=True, overflow="ellipsis"),
        Text(""),
        str(summary.tokens),
    ]


def describe(policy: Policy) -> str:
    """A policy in words, as the command line would ask for it."""
    if isinstance(policy, TokenWindow):
        window = f"--max-tokens {policy.max_tokens}"
    elif isinstance(policy, SummaryWindow):
        window = f"--max-tokens {policy.max_tokens} --summaries"
    else:
        window = f"--max-messages {policy.max_messages}"
    return window + (" --start-on-user" if policy.start_on_user else "")


def content_cell(entry: HistoryEntry) -> Text:
    """A one-line preview of a message's content (never read as rich markup).

    Parts other than text show as a marked label: an image or file as its media type and
    size, reasoning folded to its length, a refusal marked.
    """
    if entry.erased:
        return Text("(erased)", style="italic")
    content = entry.message.content
    if not isinstance(content, tuple):
        return Text(_preview(content or ""), no_wrap=True, overflow="ellipsis")
    cell = Text(no_wrap=True, overflow="ellipsis")
    for part in content:
        if len(cell) >= PREVIEW_CHARACTERS:
            break
        if cell:
            cell.append(" ")
        label, style = part_label(part)
        cell.append(_preview(label), style=style)
    return cell


def part_label(part: Part) -> tuple[str, str]:
    """How one content part reads in a table cell, and its style."""
    if isinstance(part, TextPart):
        return part.text, ""
    if isinstance(part, RefusalPart):
        return f"[refused] {part.refusal}", "bold red"
    if isinstance(part, ReasoningPart):
        if part.redacted:
            return f"[redacted reasoning, {part.provider}]", "dim italic"
        shown = part.text_of()
        return f"[reasoning, {part.provider}: {len(shown):,} characters folded]", "dim italic"
    if isinstance(part, ImagePart | FilePart | AudioPart):
        return _binary_label(part), "blue"
    return f"[{part.type}]", "dim"


def _binary_label(part: ImagePart | FilePart | AudioPart) -> str:
    words: list[str] = [part.type]
    if isinstance(part, FilePart) and part.filename:
        words.append(part.filename)
    if isinstance(part, AudioPart):
        words.append(part.format)
    if part.media_type:
        words.append(part.media_type)
    if part.attachment is not None:
        words.append(_size(part.attachment.size))
    elif part.data is not None:
        words.append(_size(decoded_size(part.data)))
    elif isinstance(part, ImagePart | FilePart) and part.url is not None:
        words.append(part.url)
    elif isinstance(part, FilePart) and part.file_id is not None:
        words.append(part.file_id)
    return "[" + " ".join(words) + "]"


def _size(size: int) -> str:
    if size < 1024:
        return f"{size:,} bytes"
    if size < 1024 * 1024:
        return f"{size / 1024:,.1f} KiB"
    return f"{size / (1024 * 1024):,.1f} MiB"


def _preview(text: str) -> str:
    text = " ".join(text.split())
    if len(text) > PREVIEW_CHARACTERS:
        text = text[: PREVIEW_CHARACTERS - 1] + "…"
    return text


def tools_cell(message: Message) -> Text:
    """The tool calls a message makes, or the call it answers."""
    if message.tool_call_id is not None:
        return Text(f"← {message.tool_call_id}")
    return Text("\n".join(f"→ {call.name} ({call.id})" for call in message.tool_calls))


def role_cell(entry: HistoryEntry) -> Text:
    """A message's role, in its colour."""
    return Text(entry.message.role, style=ROLE_STYLES[entry.message.role])


def style_columns(table: Table) -> None:
    """Right-align numbers; keep numbers and roles whole and let the rest give way."""
    for column in table.columns:
        if column.header in ("#", "tokens"):
            column.justify = "right"
        # Numbers and roles stay whole; the rest gives way on a narrow terminal (content is
        # cut short rather than wrapped, so every message stays one line).
        column.no_wrap = column.header in ("#", "role", "tokens")
        if column.header == "content":
            column.min_width = 12
