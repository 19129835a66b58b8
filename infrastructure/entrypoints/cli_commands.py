"""What the command modules share: how a subcommand is registered, run on a ledger, and printed."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any, Protocol

from chatledger.infrastructure.ledger import ChatLedger

Command = Callable[[argparse.Namespace], int]
OpenLedger = Callable[..., ChatLedger]
"""``open_ledger(args, must_exist=...)``: the ledger the options name."""
LedgerCommand = Callable[[argparse.Namespace, ChatLedger], int]


class AddCommand(Protocol):
    """The command line's ``_command``: a subcommand with the global options."""

    def __call__(
        self, commands: Any, name: str, summary: str, run: Command, *, counter: bool = True
    ) -> argparse.ArgumentParser:
        """The subcommand's parser."""
        ...


def on_existing_ledger(open_ledger: OpenLedger, run: LedgerCommand) -> Command:
    """``run`` on the ledger the options name; a SQLite file that is not there is not created."""

    def command(args: argparse.Namespace) -> int:
        with open_ledger(args, must_exist=True) as ledger:
            return run(args, ledger)

    return command


def print_json(value: Any) -> None:
    """One JSON line on stdout."""
    sys.stdout.write(json.dumps(value, ensure_ascii=False) + "\n")
