"""The demo: a travel-support chat recorded as events, its history shown beside its memory view."""

from __future__ import annotations

import shutil
import sys
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from chatledger.domain import Message, ToolCall
from chatledger.infrastructure.entrypoints.tenancy import ledger_id
from chatledger.infrastructure.entrypoints.terminal import (
    ROLE_STYLES,
    content_cell,
    describe,
    memory_table,
)
from chatledger.infrastructure.ledger import ChatLedger
from chatledger.projections import Exclusion, HistoryEntry, MemoryExplanation, TokenWindow
from chatledger.projections.memory import explain_memory

BUDGET = 550
"""Tokens the demo's window allows: with o200k_base, every turn from the parallel tool calls on,
but not the first booking lookup."""
WIDTH = 120
"""Columns the demo's tables are laid out in when there is no terminal to ask."""

FIRST_PROMPT = (
    "You are Wayfarer, the support assistant of Northwind Travel. Be concise and friendly. "
    "Use the tools to look up bookings; never invent booking details."
)
SECOND_PROMPT = FIRST_PROMPT + (
    " Policy update: seat changes on Northwind flights are now free. Always confirm with the "
    "traveller before charging anything."
)


def _user(content: str) -> Message:
    return Message(role="user", name="dana", content=content)


def _says(content: str) -> Message:
    return Message(role="assistant", content=content)


def _calls(*calls: tuple[str, str, str]) -> Message:
    return Message(
        role="assistant",
        tool_calls=tuple(ToolCall(id=i, name=name, arguments=args) for i, name, args in calls),
    )


def _result(call_id: str, content: str) -> Message:
    return Message(role="tool", tool_call_id=call_id, content=content)


def script() -> list[list[Message]]:
    """The conversation, turn by turn, as an app would record it (each turn one save)."""
    return [
        [Message(role="system", content=FIRST_PROMPT)],
        [
            _user("Hi! I booked a trip to Lisbon next month, booking NW-48213. My flight times?"),
            _calls(("call_bk1", "get_booking", '{"booking_ref": "NW-48213"}')),
            _result(
                "call_bk1",
                '{"passenger": "Dana Reyes", "outbound": {"flight": "NW 212", "from": "JFK", '
                '"departs": "2025-06-14T19:05-04:00"}, "return": {"flight": "NW 213", '
                '"from": "LIS", "departs": "2025-06-21T11:40+01:00"}}',
            ),
            _says(
                "You fly out on NW 212 from JFK on 14 June at 19:05 and come back on NW 213 "
                "from Lisbon on 21 June at 11:40."
            ),
        ],
        [
            _user("Great. What will the weather be like, and is there a hotel in Alfama?"),
            # Two calls at once; the hotel search answers first, out of order.
            _calls(
                ("call_wx2", "get_weather", '{"city": "Lisbon", "from": "06-14", "to": "06-21"}'),
                ("call_ht3", "search_hotels", '{"city": "Lisbon", "area": "Alfama", "nights": 7}'),
            ),
            _result(
                "call_ht3",
                '[{"id": "memmo", "name": "Memmo Alfama", "eur_night": 189}, '
                '{"id": "largo", "name": "Casa do Largo", "eur_night": 142}]',
            ),
            _result("call_wx2", '{"high_c": 27, "low_c": 18, "summary": "mostly sunny"}'),
            _says(
                "Expect 18-27 °C and mostly sunny. In Alfama, Memmo Alfama has rooms at "
                "€189 a night and Casa do Largo at €142. Shall I hold one?"
            ),
        ],
        [
            _user("Hold Casa do Largo, please."),
            _calls(("call_hd4", "hold_room", '{"hotel": "largo", "nights": 7}')),
            _result("call_hd4", '{"hold": "H-7731", "expires": "tomorrow 18:00"}'),
            _says("Done: Casa do Largo is held for you until tomorrow 18:00 (hold H-7731)."),
        ],
        # The operator updates the prompt mid-conversation; the old one stays in history.
        [Message(role="system", content=SECOND_PROMPT)],
        [
            _user("Can I get a window seat on the way out?"),
            # The seat service never answers: this call stays unanswered.
            _calls(("call_st5", "change_seat", '{"flight": "NW 212", "seat": "window"}')),
        ],
        [
            _user("Actually, never mind the seat. Do I need a visa for Portugal?"),
            _says(
                "Not for a one-week stay: with a US passport you can visit Portugal visa-free "
                "for up to 90 days."
            ),
        ],
        # A late webhook delivers a result for a call this conversation never made.
        [_result("call_zz9", '{"status": "seat 14A confirmed"}')],
        [
            _user("Last thing: what's my baggage allowance?"),
            _calls(("call_fr6", "get_fare_rules", '{"booking_ref": "NW-48213"}')),
            _result("call_fr6", '{"fare": "Economy Classic", "checked_kg": 23, "cabin_kg": 8}'),
            _says("Your Economy Classic fare includes one 23 kg checked bag and 8 kg of cabin."),
        ],
        [_user("Perfect, thanks!"), _says("Have a wonderful trip to Lisbon, Dana!")],
    ]


@dataclass(frozen=True)
class DemoReport:
    """What the demo recorded and what the model would be shown."""

    conversation_id: str
    history: tuple[HistoryEntry, ...]
    explanation: MemoryExplanation
    budget: int
    key: str = "a key-encryption key"
    """Where the key that wraps the data keys lives (a key file, a variable, memory)."""

    @property
    def key_notice(self) -> str:
        """Where the key is, and what losing it means."""
        return (
            f"Message text is sealed under keys wrapped by {self.key}: keep it safe and apart "
            "from the database's backups. Losing it loses every conversation's text."
        )


def run(ledger: ChatLedger, budget: int = BUDGET, *, tenant: str | None = None) -> DemoReport:
    """Record the script in a fresh conversation and explain its memory under ``budget``."""
    conversation_id = "demo-" + datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
    if tenant is not None:
        conversation_id = ledger_id(tenant, conversation_id)
    for turn in script():
        ledger.record(conversation_id, turn)
    history = ledger.history(conversation_id).entries
    policy = TokenWindow(max_tokens=budget)
    explanation = explain_memory(history, policy, ledger.token_counter.request_overhead)
    # The view the store builds is the one just explained; record it as sent, for `audit`.
    ledger.record_model_call(conversation_id, ledger.memory(conversation_id, policy), model="demo")
    return DemoReport(
        conversation_id, history, explanation, budget, key=ledger.key_encryption_key.source
    )


def report_json(report: DemoReport, url: str) -> dict[str, Any]:
    """The demo's outcome as JSON: every message, whether the model sees it, and why not."""
    view = report.explanation.view
    return {
        "conversation_id": report.conversation_id,
        "database": url,
        "policy": view.policy.model_dump(mode="json"),
        "recorded": len(report.history),
        "in_memory": len(view.entries),
        "tokens": view.tokens,
        "budget": report.budget,
        "key_encryption_key": report.key,
        "messages": [
            {
                "position": entry.position,
                "message": entry.message.model_dump(mode="json"),
                "tokens": entry.tokens,
                "in_memory": entry.position in view.positions,
                "excluded": _reason(report, entry),
            }
            for entry in report.history
        ],
    }


def render(report: DemoReport, url: str, console: Console) -> None:
    """Print the history, marking what the model sees and why the rest is left out."""
    view = report.explanation.view
    console.print(
        Text.assemble(
            ("chatledger demo", "bold"),
            f": a support chat recorded as {len(report.history)} immutable events in {url}, "
            f"conversation {report.conversation_id}",
        )
    )
    console.print(_history_table(report))
    console.print(memory_table(view, title=f"Memory view ({describe(view.policy)})"))
    console.print(
        Text(
            f"{len(report.history)} messages recorded, {len(view.entries)} in memory, "
            f"{view.tokens} tokens of a {report.budget}-token budget.",
            style="bold",
        )
    )
    left_out = Counter(report.explanation.excluded.values())
    console.print(
        Text("Left out: " + ", ".join(f"{n} {reason.value}" for reason, n in left_out.items()))
    )
    console.print(Text(report.key_notice, style="bold yellow"))
    # Just before the prompt changed: a point in time where the old prompt was in force.
    before_change = max(e.position for e in report.history if e.message.role == "system") - 1
    cli, activate = invoked_as()
    conversation = report.conversation_id
    console.print(
        Text(
            f"Explore it:\n  {cli} history {conversation}\n"
            f"  {cli} memory {conversation} --max-tokens {report.budget} --at {before_change}\n"
            f"  {cli} audit {conversation}\n"
            f"  {cli} verify {conversation}" + (f"\n({activate})" if activate else ""),
            style="dim",
        )
    )


def invoked_as() -> tuple[str, str]:
    """How to run chatledger again from here, and how to put it on PATH if it is not there.

    After ``make demo`` the command lives in ``.venv/bin``, which is not on PATH: the demo
    says so rather than suggest a command the shell cannot find.
    """
    script = Path(sys.argv[0])
    on_path = shutil.which("chatledger")
    if script.name != "chatledger":
        return "chatledger", ""
    if on_path is not None and Path(on_path).resolve() == script.resolve():
        return "chatledger", ""
    try:
        shown = str(script.resolve().relative_to(Path.cwd()))
    except ValueError:
        shown = str(script.resolve())
    activate = script.resolve().parent / "activate"
    hint = f"or run `. {activate}` to put chatledger on PATH" if activate.exists() else ""
    return shown, hint


def _history_table(report: DemoReport) -> Table:
    table = Table(title="History: everything said, and whether the model sees it")
    table.add_column("#", justify="right", no_wrap=True)
    table.add_column("role", no_wrap=True)
    # Only the message gives way when the terminal is narrow; its cells are cut, never wrapped.
    table.add_column("message")
    table.add_column("tokens", justify="right", no_wrap=True)
    table.add_column("model sees it", no_wrap=True)

    for entry in report.history:
        reason = _reason(report, entry)
        role = entry.message.role
        table.add_row(
            str(entry.position),
            Text(role, style=ROLE_STYLES[role] if reason is None else ""),
            _message_cell(entry),
            str(entry.tokens),
            Text("yes", style="bold green") if reason is None else Text(f"no: {reason}"),
            # Left-out rows are greyed so the eye follows what the model is sent.
            style=None if reason is None else "grey50",
        )
    return table


def _reason(report: DemoReport, entry: HistoryEntry) -> str | None:
    exclusion: Exclusion | None = report.explanation.excluded.get(entry.position)
    return None if exclusion is None else exclusion.value


def _message_cell(entry: HistoryEntry) -> Text:
    """Content and tool traffic in one line: the demo's table has a column to spare for reasons."""
    message = entry.message
    if message.tool_calls:
        # One line a call, so parallel calls stand out.
        calls = "\n".join(f"→ {c.id}: {c.name}({c.arguments})" for c in message.tool_calls)
        return Text(calls, no_wrap=True, overflow="ellipsis")
    if message.tool_call_id is not None:
        answer = Text.assemble(f"← {message.tool_call_id}: ", content_cell(entry))
        answer.no_wrap, answer.overflow = True, "ellipsis"
        return answer
    return content_cell(entry)
