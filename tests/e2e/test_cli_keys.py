"""The key-encryption key from the command line: the demo says where it is; keys create, rotate."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from tests.cli import Result, run

KEK_VARIABLES = ("CHATLEDGER_KEK", "CHATLEDGER_KEY_FILE", "CHATLEDGER_DATABASE_URL")


def chatledger(*args: str, cwd: Path, env: dict[str, str] | None = None) -> Result:
    """Run ``chatledger ARGS`` in ``cwd`` with no KEK configured, unless ``env`` gives one."""
    return run(*args, cwd=cwd, env=env, unset=KEK_VARIABLES)


def test_the_demo_says_where_its_key_file_is_and_that_losing_it_loses_the_text(
    tmp_path: Path,
) -> None:
    result = chatledger("demo", cwd=tmp_path)

    key_file = tmp_path / "chatledger.db.key"
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert str(key_file) in " ".join(result.stdout.split())
    assert "Losing it loses every conversation's text" in " ".join(result.stdout.split())


def test_the_demo_json_names_the_key_file(tmp_path: Path) -> None:
    result = chatledger("--json", "demo", cwd=tmp_path)

    assert str(tmp_path / "chatledger.db.key") in json.loads(result.stdout)["key_encryption_key"]


def test_rotation_replaces_the_default_key_file_and_reads_still_work(tmp_path: Path) -> None:
    chatledger("record", "c", "--role", "user", "--content", "kept", cwd=tmp_path)
    old = (tmp_path / "chatledger.db.key").read_text()

    rotated = chatledger("--json", "keys", "rotate", "--new-key-file", "new.key", cwd=tmp_path)
    history = chatledger("--json", "history", "c", cwd=tmp_path)

    assert rotated.returncode == 0, rotated.stderr
    assert json.loads(rotated.stdout)["rewrapped"] == 1
    assert (tmp_path / "chatledger.db.key").read_text() == (tmp_path / "new.key").read_text()
    assert (tmp_path / "chatledger.db.key").read_text() != old
    assert json.loads(history.stdout.splitlines()[0])["message"]["content"] == "kept"


def test_after_rotation_the_old_key_file_is_refused_with_a_message(tmp_path: Path) -> None:
    chatledger("record", "c", "--role", "user", "--content", "kept", cwd=tmp_path)
    (tmp_path / "old.key").write_text((tmp_path / "chatledger.db.key").read_text())
    chatledger("keys", "rotate", "--new-key-file", "new.key", cwd=tmp_path)

    result = chatledger(
        "history", "c", cwd=tmp_path, env={"CHATLEDGER_KEY_FILE": str(tmp_path / "old.key")}
    )

    assert result.returncode == 1
    assert "wrapped by key-encryption key" in result.stderr


def test_keys_create_writes_a_key_file_once(tmp_path: Path) -> None:
    first = chatledger("keys", "create", "pg.key", cwd=tmp_path)
    second = chatledger("keys", "create", "pg.key", cwd=tmp_path)

    assert first.returncode == 0, first.stderr
    assert stat.S_IMODE((tmp_path / "pg.key").stat().st_mode) == 0o600
    assert second.returncode == 2
    assert "exists already" in second.stderr


@pytest.mark.postgres
def test_postgres_without_a_key_says_which_variable_to_set(
    tmp_path: Path, postgres_url: str
) -> None:
    result = chatledger(
        "--db", postgres_url, "record", "c", "--role", "user", "--content", "x", cwd=tmp_path
    )

    assert result.returncode == 1
    assert "CHATLEDGER_KEY_FILE" in result.stderr
