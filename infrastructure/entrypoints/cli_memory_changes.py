"""Memory change commands: clear a conversation's memory, retract a message, list the changes."""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from typing import Any

from rich.console import Console
from rich.table import Table

from chatledger.domain import MemoryChange, UnknownConversation
from chatledger.infrastructure.entrypoints.cli_commands import (
    AddCommand,
    Command,
    LedgerCommand,
    OpenLedger,
    on_existing_ledger,
    print_json,
)
from chatledger.infrastructure.ledger import ChatLedger

OK = 0


def add_commands(commands: Any, add: AddCommand, open_ledger: OpenLedger) -> None:
    """Register `clear`, `retract` and `changes`; each opens the ledger the options name."""

    def with_ledger(run: LedgerCommand) -> Command:
        return on_existing_ledger(open_ledger, run)

    clear = add(
        commands,
        "clear",
        "start the model's memory afresh; the history keeps every message",
        with_ledger(run_clear),
        counter=False,
    )
    clear.add_argument("conversation", metavar="CONV", help="conversation id")
    retract = add(
        commands,
        "retract",
        "take a message (its whole tool exchange) out of memory; the history keeps it",
        with_ledger(run_retract),
        counter=False,
    )
    retract.add_argument("conversation", metavar="CONV", help="conversation id")
    retract.add_argument("position", type=int, metavar="POS", help="the message's position")
    listed = add(
        commands,
        "changes",
        "list a conversation's clears and retractions",
        with_ledger(run_changes),
        counter=False,
    )
    listed.add_argument("conversation", metavar="CONV", help="conversation id")


def run_clear(args: argparse.Namespace, ledger: ChatLedger) -> int:
    """Clear the conversation's memory and say what was cleared."""
    change = ledger.clear(args.conversation)
    if change is None:
        raise UnknownConversation(args.conversation)
    if args.json:
        print_json(change.model_dump(mode="json"))
        return OK
    print(
        f"{args.shown}: memory cleared of messages 1-{change.position} (change #{change.number}); "
        "the history keeps them"
    )
    return OK


def run_retract(args: argparse.Namespace, ledger: ChatLedger) -> int:
    """Retract the message at the position and say what the change was."""
    change = ledger.retract(args.conversation, args.position)
    if args.json:
        print_json(change.model_dump(mode="json"))
        return OK
    if change.kind == "cleared":
        print(
            f"{args.shown}: message {args.position} is already out of memory, cleared by "
            f"change #{change.number}; nothing recorded"
        )
    else:
        print(
            f"{args.shown}: message {args.position} retracted from memory (change "
            f"#{change.number}); the history keeps it"
        )
    return OK


def run_changes(args: argparse.Namespace, ledger: ChatLedger) -> int:
    """Print the conversation's memory changes, oldest first."""
    if not ledger.version(args.conversation):
        raise UnknownConversation(args.conversation)
    found = ledger.memory_changes(args.conversation)
    if args.json:
        for change in found:
            print_json(change.model_dump(mode="json"))
        return OK
    table = Table("#", "change", "recorded at", "history length", title=args.shown)
    for change in found:
        table.add_row(
            str(change.number),
            describe(change),
            change.recorded_at.strftime("%m-%d %H:%M:%S"),
            str(change.position),
        )
    if not found:
        table.caption = "no changes: `chatledger clear CONV` or `chatledger retract CONV POS`"
    Console(highlight=False).print(table)
    return OK


def describe(change: MemoryChange) -> str:
    """The change in words: "cleared 1-12" or "retracted 7"."""
    if change.kind == "cleared":
        return f"cleared 1-{change.position}"
    return f"retracted {change.target}"


def memory_marks(changes: Iterable[MemoryChange]) -> dict[int, str]:
    """Position -> what the history table says of it: retracted, or where memory was cleared."""
    marks: dict[int, list[str]] = {}
    for change in changes:
        if change.kind == "cleared":
            marks.setdefault(change.position, []).append(f"cleared 1-{change.position}")
        elif change.target is not None:
            marks.setdefault(change.target, []).append("retracted")
    return {position: ", ".join(words) for position, words in marks.items()}
