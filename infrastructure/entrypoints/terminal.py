"""How history and memory look in a terminal: rich tables and cells, shared by the CLI and demo."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text

from chatledger.domain import Message
from chatledger.projections import HistoryEntry, MemoryView, Policy, SummaryWindow, TokenWindow

ROLE_STYLES = {"system": "magenta", "user": "cyan", "assistant": "green", "tool": "yellow"}
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
    """A one-line preview of a message's content (never read as rich markup)."""
    if entry.erased:
        return Text("(erased)", style="italic")
    text = " ".join((entry.message.text or "").split())
    if len(text) > PREVIEW_CHARACTERS:
        text = text[: PREVIEW_CHARACTERS - 1] + "…"
    return Text(text, no_wrap=True, overflow="ellipsis")


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
