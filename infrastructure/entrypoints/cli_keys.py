"""Key-encryption key commands: create a key file, and rotate the KEK that wraps the data keys."""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console

from chatledger.domain import InvalidInput, KeyEncryptionKeyUnavailable
from chatledger.infrastructure.ledger import ChatLedger
from chatledger.infrastructure.storage.backends import SQLiteBackend
from chatledger.infrastructure.storage.wrapping import (
    KEY_FILE_VARIABLE,
    LocalKeyEncryptionKey,
    write_key_file,
)

Command = Callable[[argparse.Namespace], int]
OpenLedger = Callable[..., ChatLedger]
OK = 0


def add_commands(
    commands: Any,
    add: Callable[[Any, str, str, Command], argparse.ArgumentParser],
    open_ledger: OpenLedger,
) -> None:
    """Register ``keys create`` and ``keys rotate``."""
    keys = commands.add_parser(
        "keys", help="the key-encryption key: create a key file, rotate", description=__doc__
    )
    actions = keys.add_subparsers(title="actions", metavar="ACTION", required=True)

    create = add(actions, "create", "write a new key file (mode 0600)", run_create)
    create.add_argument("file", metavar="FILE", help="where to write it (never overwritten)")

    def rotate(args: argparse.Namespace) -> int:
        with open_ledger(args, must_exist=True) as ledger:
            return run_rotate(args, ledger)

    rotation = add(actions, "rotate", "re-wrap every data key under a new KEK", rotate)
    rotation.add_argument(
        "--new-key-file",
        required=True,
        metavar="FILE",
        help="the new KEK's key file (created if it does not exist)",
    )


def run_create(args: argparse.Namespace) -> int:
    """Write a new key file."""
    path = Path(args.file).expanduser()
    try:
        write_key_file(path)
    except FileExistsError:
        raise InvalidInput(
            "FILE", f"{str(path)!r} exists already: it is never overwritten"
        ) from None
    _say(
        args,
        {"key_file": str(path)},
        f"Created {path} (mode 0600). Name it with ${KEY_FILE_VARIABLE} or ?key_file= for every "
        "process that opens the database. Keep it apart from the database's backups: losing "
        "it loses every conversation's text.",
    )
    return OK


def run_rotate(args: argparse.Namespace, ledger: ChatLedger) -> int:
    """Re-wrap every data key under the new key file's KEK."""
    path = Path(args.new_key_file).expanduser()
    new = LocalKeyEncryptionKey.from_file(path) if path.exists() else write_key_file(path)
    old_id = ledger.key_encryption_key.id
    rotation = ledger.rotate_key_encryption_key(new)
    default = _default_key_file(ledger)
    replaced = default is not None and _holds(default, old_id)
    if replaced:
        # The database is opened with its default key file: it must hold the new key now.
        assert default is not None
        draft = default.with_name(default.name + ".new")
        draft.write_bytes(path.read_bytes())
        draft.chmod(0o600)
        os.replace(draft, default)
    where = (
        f"{default} now holds the new key (as does {path})"
        if replaced
        else f"open the database with ${KEY_FILE_VARIABLE}={path} from now on, in every process"
    )
    _say(
        args,
        {
            "rewrapped": rotation.rewrapped,
            "legacy": rotation.legacy,
            "key_file": str(default if replaced else path),
        },
        f"Re-wrapped {rotation.rewrapped} data keys ({rotation.legacy} stored unwrapped before) "
        f"under the key in {path}; the old key opens nothing now. {where}.",
    )
    return OK


def _default_key_file(ledger: ChatLedger) -> Path | None:
    backend = ledger.application.backend
    return backend.default_key_file if isinstance(backend, SQLiteBackend) else None


def _holds(path: Path, kek_id: str) -> bool:
    try:
        return LocalKeyEncryptionKey.from_file(path).id == kek_id
    except KeyEncryptionKeyUnavailable:  # unreadable: not the old key, so it stays as it is
        return False


def _say(args: argparse.Namespace, data: dict[str, Any], text: str) -> None:
    if args.json:
        print(json.dumps(data))
    else:
        Console(soft_wrap=True).print(text, markup=False, highlight=False)
