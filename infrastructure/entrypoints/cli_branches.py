"""Branch commands: fork, edit and regenerate a conversation, and show its tree and siblings."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from chatledger.domain import Branch, InvalidInput, Message
from chatledger.infrastructure.entrypoints.cli_commands import (
    AddCommand,
    Command,
    LedgerCommand,
    OpenLedger,
    on_existing_ledger,
    print_json,
)
from chatledger.infrastructure.entrypoints.tenancy import external_id, ledger_id
from chatledger.infrastructure.ledger import ChatLedger

OK = 0
TIME = "%Y-%m-%d %H:%M:%S"


def add_commands(commands: Any, add: AddCommand, open_ledger: OpenLedger) -> None:
    """Register `fork`, `edit`, `regenerate`, `branches` and `siblings`."""

    def with_ledger(run: LedgerCommand) -> Command:
        return on_existing_ledger(open_ledger, run)

    fork = add(
        commands,
        "fork",
        "begin a branch sharing the conversation's messages 1..N; print its id",
        with_ledger(run_fork),
        counter=False,
    )
    fork.add_argument("conversation", metavar="CONV", help="conversation id")
    fork.add_argument(
        "--at", type=int, required=True, metavar="N", help="the last position it shares (0: none)"
    )
    _new_id_option(fork)

    edit = add(
        commands,
        "edit",
        "record another message in place of the one at POS, on a new branch; print its id",
        with_ledger(run_edit),
    )
    edit.add_argument("conversation", metavar="CONV", help="conversation id")
    edit.add_argument("position", type=int, metavar="POS", help="the message's position")
    source = edit.add_mutually_exclusive_group(required=True)
    source.add_argument("--content", metavar="TEXT", help="the new message's text")
    source.add_argument(
        "--file",
        metavar="PATH",
        help="the new message as one JSON object, as `record --file` takes a line ('-': stdin)",
    )
    edit.add_argument(
        "--role", metavar="{system,user,assistant,tool}", help="with --content (default: user)"
    )
    _new_id_option(edit)

    regenerate = add(
        commands,
        "regenerate",
        "begin a branch just before POS, for another reply to be recorded there; print its id",
        with_ledger(run_regenerate),
        counter=False,
    )
    regenerate.add_argument("conversation", metavar="CONV", help="conversation id")
    regenerate.add_argument("position", type=int, metavar="POS", help="the reply's position")
    _new_id_option(regenerate)

    tree = add(
        commands,
        "branches",
        "show the conversation's tree: each branch, its parent, fork point and length",
        with_ledger(run_branches),
        counter=False,
    )
    tree.add_argument("conversation", metavar="CONV", help="any conversation of the tree")

    alternatives = add(
        commands,
        "siblings",
        "list the alternatives at POS (edits, regenerations) and the branch holding each",
        with_ledger(run_siblings),
        counter=False,
    )
    alternatives.add_argument("conversation", metavar="CONV", help="conversation id")
    alternatives.add_argument("position", type=int, metavar="POS", help="the position")


def _new_id_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--new-id",
        metavar="ID",
        help="the branch's id (default: a new one, in the conversation's tenant)",
    )


# Commands


def run_fork(args: argparse.Namespace, ledger: ChatLedger) -> int:
    """Fork the conversation and print the branch's id."""
    branch = ledger.fork(args.conversation, at=args.at, new_id=_new_id(args))
    _print_branch(args, branch, args.at)
    return OK


def run_edit(args: argparse.Namespace, ledger: ChatLedger) -> int:
    """Record the new message on a branch forked before POS and print the branch's id."""
    message = _message(args)
    branch = ledger.edit(args.conversation, args.position, message, new_id=_new_id(args))
    recorded = ledger.history(branch, after=args.position - 1, limit=1).entries
    entry = recorded[0].model_dump(mode="json") if recorded else None
    _print_branch(args, branch, args.position - 1, entry=entry)
    return OK


def run_regenerate(args: argparse.Namespace, ledger: ChatLedger) -> int:
    """Fork just before POS and print the branch's id."""
    branch = ledger.regenerate(args.conversation, args.position, new_id=_new_id(args))
    _print_branch(args, branch, args.position - 1)
    return OK


def run_branches(args: argparse.Namespace, ledger: ChatLedger) -> int:
    """Print the conversation's tree, each branch under its parent."""
    tree = ledger.branches(args.conversation)
    if args.json:
        for branch in tree:
            print_json(
                branch.model_dump(mode="json")
                | {
                    "conversation_id": _shown(args, branch.conversation_id),
                    "parent": None if branch.parent is None else _shown(args, branch.parent),
                }
            )
        return OK
    table = Table(
        "id", "parent", "fork point", "length", "created (UTC)", title=f"tree of {args.shown}"
    )
    for depth, branch in _depth_first(tree):
        this = branch.conversation_id == args.conversation
        indent = "  " * (depth - 1) + "└─" if depth else ""
        name = indent + _shown(args, branch.conversation_id) + (" *" if this else "")
        parent = "" if branch.parent is None else _shown(args, branch.parent)
        table.add_row(
            # Folded, never cut short: an id is there to be copied.
            Text(name, style="bold" if this else "", overflow="fold"),
            Text(parent, overflow="fold"),
            "" if branch.parent is None else str(branch.fork_point),
            str(branch.length),
            branch.created_at.strftime(TIME),
        )
    table.caption = f"* {args.shown}; a branch shares its parent's messages 1..fork point"
    Console(highlight=False).print(table)
    return OK


def run_siblings(args: argparse.Namespace, ledger: ChatLedger) -> int:
    """Print the alternatives at POS, marking the one this conversation shows."""
    found = ledger.siblings(args.conversation, args.position)
    if args.json:
        for sibling in found:
            print_json(
                sibling.model_dump(mode="json")
                | {"conversation_id": _shown(args, sibling.conversation_id)}
            )
        return OK
    table = Table(
        "#",
        "branch",
        "created (UTC)",
        title=f"{args.shown} at position {args.position}: {len(found)} alternatives",
        caption=f"* the one {args.shown} shows",
    )
    for sibling in found:
        mark = " *" if sibling.current else ""
        table.add_row(
            f"{sibling.number}/{len(found)}",
            Text(_shown(args, sibling.conversation_id) + mark, overflow="fold"),
            sibling.created_at.strftime(TIME),
        )
    Console(highlight=False).print(table)
    return OK


# Input and output


def _new_id(args: argparse.Namespace) -> str | None:
    """--new-id as the ledger's id: under a tenant, the tenant's conversation of that name."""
    if args.new_id is None or args.tenant is None:
        return args.new_id  # type: ignore[no-any-return]  # argparse's values are Any
    try:
        return ledger_id(args.tenant, args.new_id)
    except InvalidInput as exc:
        raise InvalidInput("new_id", exc.problem) from None


def _shown(args: argparse.Namespace, conversation_id: str) -> str:
    """The id as the user names it: under a tenant, the tenant's own id (if it is theirs)."""
    if args.tenant is None:
        return conversation_id
    return external_id(args.tenant, conversation_id) or conversation_id


def _message(args: argparse.Namespace) -> Message:
    if args.file is None:
        return Message(role=args.role or "user", content=args.content)
    if args.role is not None:
        raise InvalidInput("--role", "cannot be combined with --file: give the object a role")
    text = _read(args.file)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        problem = (
            "holds more than one JSON value: edit takes one message"
            if exc.msg == "Extra data"
            else f"is not valid JSON ({exc.msg})"
        )
        raise InvalidInput("file", problem) from None
    try:
        return Message.parse(data)
    except InvalidInput as exc:
        raise InvalidInput(f"file: {exc.field}", exc.problem) from None


def _read(path: str) -> str:
    try:
        if path == "-":
            return sys.stdin.read()
        with open(path, encoding="utf-8") as file:
            return file.read()
    except UnicodeDecodeError as exc:
        raise InvalidInput("file", f"{path!r} is not UTF-8 text ({exc.reason})") from None
    except OSError as exc:
        raise InvalidInput("file", f"cannot read {path!r}: {exc.strerror or exc}") from None


def _print_branch(
    args: argparse.Namespace, branch: str, fork_point: int, **extra: dict[str, Any] | None
) -> None:
    shown = _shown(args, branch)
    if args.json:
        print_json(
            {"conversation_id": shown, "parent": args.shown, "fork_point": fork_point} | extra
        )
    else:
        print(shown)


def _depth_first(tree: list[Branch]) -> list[tuple[int, Branch]]:
    """The tree's branches each under its parent, siblings in creation order, with depths."""
    children: dict[str | None, list[Branch]] = {}
    for branch in tree:
        children.setdefault(branch.parent, []).append(branch)
    ordered: list[tuple[int, Branch]] = []
    waiting = [(0, root) for root in reversed(children.get(None, []))]
    while waiting:
        depth, branch = waiting.pop()
        ordered.append((depth, branch))
        waiting += [
            (depth + 1, child) for child in reversed(children.get(branch.conversation_id, []))
        ]
    return ordered
