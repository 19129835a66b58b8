"""A newcomer's first hour with the `chatledger` executable: every path works, or says why.

These run the installed console script itself (never ``python -m``), in a fresh directory,
and under a pseudo-terminal where a terminal changes what the program does.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.cli import EXECUTABLE, Result, run


def in_terminal(command: str, *, cwd: Path) -> Result:
    """Run a shell command line under a pseudo-terminal (``script``), as from a real terminal."""
    environment = {k: v for k, v in os.environ.items() if k != "CHATLEDGER_DATABASE_URL"}
    environment["COLUMNS"] = "100"
    return subprocess.run(
        ["script", "-qec", command, "/dev/null"],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        stdin=subprocess.DEVNULL,
    )


def lines(result: Result) -> list[dict[str, object]]:
    return [json.loads(line) for line in result.stdout.splitlines()]


@pytest.fixture
def trip(tmp_path: Path) -> Path:
    """A directory whose ./chatledger.db holds a conversation `trip` of 30 messages."""
    messages = [{"role": "system", "content": "You are a travel assistant."}]
    messages += [
        {"role": "user" if i % 2 else "assistant", "content": f"message number {i}"}
        for i in range(1, 30)
    ]
    body = "".join(json.dumps(m) + "\n" for m in messages)
    result = run("record", "trip", "--file", "-", cwd=tmp_path, stdin=body)
    assert result.returncode == 0, result.stderr
    return tmp_path


def test_the_console_script_is_installed_beside_the_interpreter() -> None:
    assert EXECUTABLE.is_file()
    assert os.access(EXECUTABLE, os.X_OK)


def test_export_from_a_terminal_writes_every_line_to_the_file(trip: Path) -> None:
    assert shutil.which("script") is not None

    result = in_terminal(f"{shlex.quote(str(EXECUTABLE))} export trip > out.jsonl", cwd=trip)

    written = (trip / "out.jsonl").read_text(encoding="utf-8").splitlines()
    assert result.returncode == 0, result.stdout
    assert len(written) == 30
    assert [json.loads(line)["position"] for line in written] == list(range(1, 31))


def test_piping_history_into_head_ends_quietly(trip: Path) -> None:
    command = f"{shlex.quote(str(EXECUTABLE))} --json history trip | head -1"

    result = subprocess.run(
        ["bash", "-c", command], cwd=trip, capture_output=True, text=True, timeout=60, check=False
    )

    assert json.loads(result.stdout)["position"] == 1
    assert "Traceback" not in result.stderr
    assert "BrokenPipe" not in result.stderr


def test_piping_export_into_head_ends_quietly(trip: Path) -> None:
    # Enough lines that the pipe's buffer fills and the reader's exit is felt.
    many = "".join(json.dumps({"role": "user", "content": "x" * 500}) + "\n" for _ in range(400))
    assert run("record", "big", "--file", "-", cwd=trip, stdin=many).returncode == 0
    command = f"{shlex.quote(str(EXECUTABLE))} export big | head -2"

    result = subprocess.run(
        ["bash", "-c", command], cwd=trip, capture_output=True, text=True, timeout=60, check=False
    )

    assert len(result.stdout.splitlines()) == 2
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "command",
    [
        ["history", "nosuch"],
        ["--json", "history", "nosuch"],
        ["memory", "nosuch"],
        ["audit", "nosuch"],
        ["verify", "nosuch"],
        ["export", "nosuch"],
        ["retention", "nosuch"],
    ],
)
def test_every_command_on_an_unknown_conversation_fails_the_same_way(
    trip: Path, command: list[str]
) -> None:
    result = run(*command, cwd=trip)

    assert result.returncode == 1
    assert "conversation 'nosuch' has no recorded messages" in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize("command", [["history", "foo"], ["memory", "foo"], ["verify", "foo"]])
def test_a_read_in_an_empty_directory_creates_no_database(
    tmp_path: Path, command: list[str]
) -> None:
    result = run(*command, cwd=tmp_path)

    assert result.returncode == 2
    assert f"there is no database at {tmp_path / 'chatledger.db'}" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_history_shows_the_newest_twenty_and_says_how_to_see_more(trip: Path) -> None:
    result = run("history", "trip", cwd=trip)

    assert result.returncode == 0
    assert "trip: 20 of 30 messages" in result.stdout
    assert "message number 29" in result.stdout
    assert "message number 9 " not in result.stdout
    assert "--limit N for more, --all for every message" in result.stdout


def test_history_all_shows_every_message(trip: Path) -> None:
    result = run("history", "trip", "--all", cwd=trip)

    assert "trip: 30 of 30 messages" in result.stdout
    assert "--all for every message" not in result.stdout


def test_history_fits_the_content_to_an_eighty_column_terminal(trip: Path) -> None:
    result = in_terminal(f"COLUMNS=80 {shlex.quote(str(EXECUTABLE))} history trip", cwd=trip)

    shown = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", result.stdout)  # colours and cursor codes
    widths = {len(line.rstrip()) for line in shown.splitlines() if line.strip()}
    assert result.returncode == 0
    assert max(widths) <= 80
    assert "message number 29" in shown


def test_reading_needs_no_tokenizer_even_for_a_model_without_an_offline_encoding(
    trip: Path,
) -> None:
    history = run("--model", "gpt-4o", "history", "trip", cwd=trip)
    memory = run("--model", "gpt-4o", "--json", "memory", "trip", cwd=trip)

    assert history.returncode == 0, history.stderr
    assert memory.returncode == 0, memory.stderr
    assert json.loads(memory.stdout)["position"] == 30


def test_retention_of_one_conversation_reads_its_settings_back(trip: Path) -> None:
    assert run("retention", "trip", "--set", "30d", cwd=trip).returncode == 0
    held = run("retention", "trip", "--hold", "case 42", cwd=trip)

    shown = run("--json", "retention", "trip", cwd=trip)

    assert "legal hold: case 42" in held.stdout
    assert json.loads(shown.stdout) == {
        "conversation": "trip",
        "retention": "30 days, 0:00:00",
        "legal_hold": "case 42",
        "erased_at": None,
    }


def test_a_message_with_nothing_in_it_is_refused(trip: Path) -> None:
    result = run("record", "trip", "--role", "user", cwd=trip)

    assert result.returncode == 2
    assert "--content" in result.stderr
    assert lines(run("--json", "history", "trip", cwd=trip))[-1]["position"] == 30


def test_tool_arguments_that_are_not_json_are_kept_with_a_warning(trip: Path) -> None:
    result = run(
        "--json", "record", "trip", "--role", "assistant", "--tool-call", "c1", "f", "not json",
        cwd=trip,
    )  # fmt: skip

    (entry,) = lines(result)
    assert result.returncode == 0
    assert "warning" in result.stderr
    assert "'c1'" in result.stderr
    assert entry["message"]["tool_calls"][0]["arguments"] == "not json"  # type: ignore[index]


def test_recording_the_same_file_twice_records_it_once(tmp_path: Path) -> None:
    turn = tmp_path / "turn.jsonl"
    turn.write_text(
        '{"role": "user", "content": "hi"}\n{"role": "assistant", "content": "hello"}\n',
        encoding="utf-8",
    )

    first = run("--json", "record", "c", "--file", str(turn), cwd=tmp_path)
    second = run("--json", "record", "c", "--file", str(turn), cwd=tmp_path)

    assert [e["position"] for e in lines(first)] == [1, 2]
    assert [e["position"] for e in lines(second)] == [1, 2]
    assert len(lines(run("--json", "history", "c", cwd=tmp_path))) == 2


def test_the_demo_says_how_to_reach_the_command_when_it_is_not_on_path(tmp_path: Path) -> None:
    bin_dir = str(EXECUTABLE.parent)
    path = os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep) if p != bin_dir)

    result = run("demo", cwd=tmp_path, env={"PATH": path})

    assert result.returncode == 0, result.stderr
    assert f"{EXECUTABLE} history demo-" in result.stdout
    assert str(EXECUTABLE.with_name("activate")) in result.stdout
