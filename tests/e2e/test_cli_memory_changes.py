"""`chatledger clear`, `retract` and `changes`, and the history's marks, as a user drives them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli import run
from tests.e2e.test_cli import record


@pytest.fixture
def db(tmp_path: Path) -> str:
    """A SQLite file holding c1: a system prompt, a question, a tool exchange, an answer."""
    url = f"sqlite:///{tmp_path / 'x.db'}"
    call = {"id": "call-1", "name": "weather", "arguments": '{"city": "Oslo"}'}
    record(
        tmp_path,
        url,
        "c1",
        {"role": "system", "content": "You forecast."},
        {"role": "user", "content": "Weather in Oslo?"},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "content": "sunny", "tool_call_id": "call-1"},
        {"role": "assistant", "content": "Sunny in Oslo."},
    )
    return url


def memory_positions(tmp_path: Path, db: str) -> list[int]:
    shown = run("--db", db, "memory", "c1", "--json", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    positions: list[int] = json.loads(shown.stdout)["positions"]
    return positions


def test_retracting_a_tool_result_takes_its_exchange_out_of_memory(tmp_path: Path, db: str) -> None:
    retracted = run("--db", db, "retract", "c1", "4", cwd=tmp_path)

    assert retracted.returncode == 0, retracted.stderr
    assert "message 4 retracted from memory (change #1)" in retracted.stdout
    assert memory_positions(tmp_path, db) == [1, 2, 5]


def test_clear_leaves_the_system_prompt_and_the_history_marks_it(tmp_path: Path, db: str) -> None:
    cleared = run("--db", db, "clear", "c1", "--json", cwd=tmp_path)
    record(tmp_path, db, "c1", {"role": "user", "content": "And Bergen?"})

    history = run("--db", db, "history", "c1", cwd=tmp_path, env={"COLUMNS": "160"})

    assert cleared.returncode == 0, cleared.stderr
    assert json.loads(cleared.stdout)["kind"] == "cleared"
    assert memory_positions(tmp_path, db) == [1, 6]
    assert "Weather in Oslo?" in history.stdout
    (marked,) = [line for line in history.stdout.splitlines() if "cleared 1-5" in line]
    assert "Sunny in Oslo." in marked


def test_changes_lists_each_clear_and_retraction_as_json_lines(tmp_path: Path, db: str) -> None:
    run("--db", db, "retract", "c1", "2", cwd=tmp_path)
    run("--db", db, "clear", "c1", cwd=tmp_path)

    listed = run("--db", db, "changes", "c1", "--json", cwd=tmp_path)

    changes = [json.loads(line) for line in listed.stdout.splitlines()]
    assert [(c["number"], c["kind"], c["target"]) for c in changes] == [
        (1, "retracted", 2),
        (2, "cleared", None),
    ]


def test_retracting_the_system_prompt_exits_2_naming_the_position(tmp_path: Path, db: str) -> None:
    refused = run("--db", db, "retract", "c1", "1", cwd=tmp_path)

    assert refused.returncode == 2
    assert "position: position 1 holds a system message" in refused.stderr
    assert refused.stdout == ""
    listed = run("--db", db, "changes", "c1", "--json", cwd=tmp_path)
    assert listed.stdout == ""


def test_clearing_twice_records_one_clear(tmp_path: Path, db: str) -> None:
    first = run("--db", db, "clear", "c1", cwd=tmp_path)
    second = run("--db", db, "clear", "c1", cwd=tmp_path)

    assert "change #1" in first.stdout
    assert "change #1" in second.stdout
    listed = run("--db", db, "changes", "c1", "--json", cwd=tmp_path)
    assert len(listed.stdout.splitlines()) == 1
