"""The command line reads where the encodings extra is not installed (recording: test_cli.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli import run
from tests.without_encodings import run_cli, site_view

READING = {
    "history": ("history", "trip"),
    "memory": ("memory", "trip", "--max-tokens", "500"),
    "verify": ("verify", "trip"),
    "verify all": ("verify", "--all"),
    "export": ("export", "trip"),
    "audit": ("audit", "trip"),
}


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, Path]:
    """A folder, a SQLite ledger recorded with the encodings installed, and a view without them."""
    folder = tmp_path_factory.mktemp("cli")
    db = f"sqlite:///{folder / 'trip.db'}"
    for role, content in (("user", "Flights to Lisbon?"), ("assistant", "Three a day.")):
        done = run("--db", db, "record", "trip", "--role", role, "--content", content, cwd=folder)
        assert done.returncode == 0, done.stderr
    return folder, db, site_view(folder / "site")


@pytest.mark.parametrize("command", READING.values(), ids=READING.keys())
def test_a_reading_command_runs_where_no_encoding_is_installed(
    recorded: tuple[Path, str, Path], command: tuple[str, ...]
) -> None:
    folder, db, view = recorded

    done = run_cli(view, "--db", db, *command, cwd=folder)

    assert done.returncode == 0, done.stderr
