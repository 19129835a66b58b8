"""The chatledger command line, driven as a user drives it: a real process, a real database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.without_encodings import run_cli, site_view

Result = subprocess.CompletedProcess[str]


def chatledger(
    *args: str, cwd: Path, stdin: str | None = None, env: dict[str, str] | None = None
) -> Result:
    """Run ``chatledger ARGS`` in ``cwd``, with $CHATLEDGER_DATABASE_URL unset unless given."""
    environment = {k: v for k, v in os.environ.items() if k != "CHATLEDGER_DATABASE_URL"}
    environment.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "chatledger.infrastructure.entrypoints.cli", *args],
        cwd=cwd,
        input=stdin,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def json_lines(result: Result) -> list[dict[str, Any]]:
    """Every stdout line parsed as JSON."""
    return [json.loads(line) for line in result.stdout.splitlines()]


@pytest.fixture
def db(tmp_path: Path) -> str:
    """A URL of a fresh SQLite file."""
    return f"sqlite:///{tmp_path / 'x.db'}"


def record(tmp_path: Path, db: str, conversation: str, *messages: dict[str, Any]) -> None:
    """Record messages through the CLI, as a JSON lines file on stdin."""
    lines = "".join(json.dumps(message) + "\n" for message in messages)
    result = chatledger(
        "--db", db, "record", conversation, "--file", "-", cwd=tmp_path, stdin=lines
    )
    assert result.returncode == 0, result.stderr


def test_a_recorded_message_shows_in_the_history(tmp_path: Path, db: str) -> None:
    chatledger("--db", db, "record", "c1", "--role", "user", "--content", "hi there", cwd=tmp_path)

    result = chatledger("--db", db, "history", "c1", cwd=tmp_path)

    assert result.returncode == 0
    assert "hi there" in result.stdout
    assert "user" in result.stdout


def test_record_prints_the_position_and_token_count_of_the_entry(tmp_path: Path, db: str) -> None:
    result = chatledger(
        "--db", db, "--json", "record", "c1", "--role", "user", "--content", "hello", cwd=tmp_path
    )

    [entry] = json_lines(result)
    assert result.returncode == 0
    assert entry["position"] == 1
    assert entry["tokens"] > 0


def test_an_assistant_message_records_its_tool_calls(tmp_path: Path, db: str) -> None:
    chatledger(
        "--db", db, "record", "c1", "--role", "assistant",
        "--tool-call", "call_1", "weather", '{"city": "Lisbon"}',
        "--tool-call", "call_2", "time", "{}",
        cwd=tmp_path,
    )  # fmt: skip

    result = chatledger("--db", db, "--json", "history", "c1", cwd=tmp_path)

    [entry] = json_lines(result)
    calls = entry["message"]["tool_calls"]
    assert [(call["id"], call["name"], call["arguments"]) for call in calls] == [
        ("call_1", "weather", '{"city": "Lisbon"}'),
        ("call_2", "time", "{}"),
    ]


def test_history_json_lines_are_the_entries_oldest_first(tmp_path: Path, db: str) -> None:
    record(
        tmp_path, db, "c1", {"role": "user", "content": "one"}, {"role": "user", "content": "two"}
    )

    result = chatledger("--db", db, "--json", "history", "c1", cwd=tmp_path)

    assert [(e["position"], e["message"]["content"]) for e in json_lines(result)] == [
        (1, "one"),
        (2, "two"),
    ]


def test_history_pages_with_limit_and_after(tmp_path: Path, db: str) -> None:
    record(tmp_path, db, "c1", *({"role": "user", "content": f"m{i}"} for i in range(1, 6)))

    result = chatledger(
        "--db", db, "--json", "history", "c1", "--after", "1", "--limit", "2", cwd=tmp_path
    )

    assert [entry["position"] for entry in json_lines(result)] == [2, 3]


def test_history_at_a_position_shows_the_conversation_as_it_was(tmp_path: Path, db: str) -> None:
    record(tmp_path, db, "c1", *({"role": "user", "content": f"m{i}"} for i in range(1, 6)))

    result = chatledger("--db", db, "--json", "history", "c1", "--at", "3", cwd=tmp_path)

    assert [entry["position"] for entry in json_lines(result)] == [1, 2, 3]


def test_a_json_lines_file_is_recorded_in_one_save(tmp_path: Path, db: str) -> None:
    turn = tmp_path / "turn.jsonl"
    turn.write_text(
        '{"role": "user", "content": "weather?"}\n'
        '{"role": "assistant", "tool_calls": [{"id": "c", "name": "weather", "arguments": "{}"}]}\n'
        '{"role": "tool", "tool_call_id": "c", "content": "sunny"}\n',
        encoding="utf-8",
    )

    result = chatledger("--db", db, "--json", "record", "c1", "--file", str(turn), cwd=tmp_path)

    assert result.returncode == 0
    assert [entry["position"] for entry in json_lines(result)] == [1, 2, 3]


def test_a_bad_line_in_a_file_records_nothing(tmp_path: Path, db: str) -> None:
    turn = tmp_path / "turn.jsonl"
    turn.write_text(
        '{"role": "user", "content": "one"}\n'
        '{"role": "user", "content": "two"}\n'
        '{"role": "robot", "content": "three"}\n',
        encoding="utf-8",
    )

    chatledger("--db", db, "record", "c1", "--file", str(turn), cwd=tmp_path)

    assert chatledger("--db", db, "--json", "history", "c1", cwd=tmp_path).stdout == ""


def test_a_bad_line_in_a_file_exits_2_naming_the_line_and_the_field(
    tmp_path: Path, db: str
) -> None:
    turn = tmp_path / "turn.jsonl"
    turn.write_text(
        '{"role": "user", "content": "one"}\n'
        '{"role": "user", "content": "two"}\n'
        '{"role": "robot", "content": "three"}\n',
        encoding="utf-8",
    )

    result = chatledger("--db", db, "record", "c1", "--file", str(turn), cwd=tmp_path)

    assert result.returncode == 2
    assert "line 3: role" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_line_that_is_not_json_is_named_by_its_number(tmp_path: Path, db: str) -> None:
    result = chatledger(
        "--db", db, "record", "c1", "--file", "-",
        cwd=tmp_path, stdin='{"role": "user", "content": "one"}\n{"role": \n',
    )  # fmt: skip

    assert result.returncode == 2
    assert "line 2" in result.stderr


def test_a_bad_role_exits_2_naming_the_field(tmp_path: Path, db: str) -> None:
    result = chatledger(
        "--db", db, "record", "c1", "--role", "robot", "--content", "x", cwd=tmp_path
    )

    assert result.returncode == 2
    assert result.stderr.startswith("chatledger: error: role:")
    assert "robot" in result.stderr


def test_a_tool_message_without_its_call_id_exits_2_naming_the_field(
    tmp_path: Path, db: str
) -> None:
    result = chatledger(
        "--db", db, "record", "c1", "--role", "tool", "--content", "x", cwd=tmp_path
    )

    assert result.returncode == 2
    assert "tool_call_id" in result.stderr


def test_a_stale_expected_version_exits_1_and_records_nothing(tmp_path: Path, db: str) -> None:
    record(tmp_path, db, "c1", {"role": "user", "content": "one"})

    result = chatledger(
        "--db", db, "record", "c1", "--role", "user", "--content", "two",
        "--expected-version", "0", cwd=tmp_path,
    )  # fmt: skip

    assert result.returncode == 1
    assert "version 1" in result.stderr
    assert len(json_lines(chatledger("--db", db, "--json", "history", "c1", cwd=tmp_path))) == 1


def test_an_unknown_conversation_is_an_error_that_names_it(tmp_path: Path, db: str) -> None:
    record(tmp_path, db, "somebody", {"role": "user", "content": "hi"})

    result = chatledger("--db", db, "history", "nobody", cwd=tmp_path)

    assert result.returncode == 1
    assert "conversation 'nobody' has no recorded messages" in result.stderr


def test_an_unknown_conversation_has_no_json_lines(tmp_path: Path, db: str) -> None:
    record(tmp_path, db, "somebody", {"role": "user", "content": "hi"})

    result = chatledger("--db", db, "--json", "history", "nobody", cwd=tmp_path)

    assert result.returncode == 1
    assert result.stdout == ""


def test_memory_with_max_messages_keeps_the_prompt_and_the_newest(tmp_path: Path, db: str) -> None:
    record(
        tmp_path, db, "c1",
        {"role": "system", "content": "be brief"},
        *({"role": "user", "content": f"m{i}"} for i in range(1, 6)),
    )  # fmt: skip

    result = chatledger("--db", db, "--json", "memory", "c1", "--max-messages", "3", cwd=tmp_path)

    view = json.loads(result.stdout)
    assert [m["content"] for m in view["messages"]] == ["be brief", "m4", "m5"]


def test_memory_with_max_tokens_stays_within_the_budget(tmp_path: Path, db: str) -> None:
    record(tmp_path, db, "c1", *({"role": "user", "content": f"message {i}"} for i in range(20)))

    result = chatledger("--db", db, "--json", "memory", "c1", "--max-tokens", "40", cwd=tmp_path)

    view = json.loads(result.stdout)
    assert 0 < view["tokens"] <= 40
    assert 0 < len(view["messages"]) < 20
    assert view["policy"]["max_tokens"] == 40


def test_memory_at_a_position_is_the_view_as_it_was_then(tmp_path: Path, db: str) -> None:
    record(tmp_path, db, "c1", *({"role": "user", "content": f"m{i}"} for i in range(1, 6)))

    result = chatledger(
        "--db", db, "--json", "memory", "c1", "--max-messages", "2", "--at", "3", cwd=tmp_path
    )

    view = json.loads(result.stdout)
    assert view["position"] == 3
    assert [m["content"] for m in view["messages"]] == ["m2", "m3"]


def test_memory_with_start_on_user_begins_with_a_user_message(tmp_path: Path, db: str) -> None:
    record(
        tmp_path, db, "c1",
        {"role": "user", "content": "q1"},
        {"role": "assistant", "content": "a1"},
        {"role": "user", "content": "q2"},
        {"role": "assistant", "content": "a2"},
    )  # fmt: skip

    result = chatledger(
        "--db", db, "--json", "memory", "c1", "--max-messages", "3", "--start-on-user",
        cwd=tmp_path,
    )  # fmt: skip

    assert [m["content"] for m in json.loads(result.stdout)["messages"]] == ["q2", "a2"]


def test_the_memory_table_has_a_footer_of_total_tokens(tmp_path: Path, db: str) -> None:
    record(tmp_path, db, "c1", {"role": "user", "content": "hello"})
    tokens = json.loads(
        chatledger("--db", db, "--json", "memory", "c1", "--max-tokens", "100", cwd=tmp_path).stdout
    )["tokens"]

    result = chatledger("--db", db, "memory", "c1", "--max-tokens", "100", cwd=tmp_path)

    assert result.returncode == 0
    assert result.stdout.rstrip().splitlines()[-2].split()[-2] == str(tokens)


def test_memory_without_a_window_uses_a_4000_token_window(tmp_path: Path, db: str) -> None:
    record(tmp_path, db, "c1", {"role": "user", "content": "hi"})

    result = chatledger("--db", db, "--json", "memory", "c1", cwd=tmp_path)

    assert result.returncode == 0
    assert json.loads(result.stdout)["policy"]["max_tokens"] == 4000


def test_a_window_below_one_exits_2_naming_the_field(tmp_path: Path, db: str) -> None:
    result = chatledger("--db", db, "memory", "c1", "--max-tokens", "0", cwd=tmp_path)

    assert result.returncode == 2
    assert "max_tokens" in result.stderr


def test_the_database_url_variable_is_honoured(tmp_path: Path, db: str) -> None:
    env = {"CHATLEDGER_DATABASE_URL": db}
    chatledger("record", "c1", "--role", "user", "--content", "hi", cwd=tmp_path, env=env)

    result = chatledger("--db", db, "--json", "history", "c1", cwd=tmp_path)

    assert [entry["message"]["content"] for entry in json_lines(result)] == ["hi"]


def test_without_a_url_the_database_is_chatledger_db_here(tmp_path: Path) -> None:
    chatledger("record", "c1", "--role", "user", "--content", "hi", cwd=tmp_path)

    assert (tmp_path / "chatledger.db").is_file()


def test_an_unsupported_database_url_exits_2(tmp_path: Path) -> None:
    result = chatledger("--db", "mysql://localhost/x", "history", "c1", cwd=tmp_path)

    assert result.returncode == 2
    assert "unsupported database URL" in result.stderr


def test_an_encoding_not_available_offline_exits_1_saying_how_to_fix_it(
    tmp_path: Path, db: str
) -> None:
    view = site_view(tmp_path / "site")  # this venv's packages, without the encodings extra

    result = run_cli(
        view, "--db", db, "record", "c1", "--role", "user", "--content", "hi", cwd=tmp_path
    )

    assert result.returncode == 1
    assert "CHATLEDGER_TIKTOKEN_DIR" in result.stderr
    assert "pip install 'chatledger[encodings]'" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_demo_runs_and_exits_0(tmp_path: Path, db: str) -> None:
    result = chatledger("demo", "--db", db, cwd=tmp_path)

    assert result.returncode == 0, result.stderr


def test_the_demo_names_every_reason_a_message_is_left_out(tmp_path: Path, db: str) -> None:
    result = chatledger("demo", "--db", db, cwd=tmp_path)

    for reason in (
        "evicted by the window",
        "orphaned tool result",
        "unanswered tool call",
        "replaced system prompt",
    ):
        assert reason in result.stdout


def test_the_demo_ends_with_a_summary_of_memory_against_history(tmp_path: Path, db: str) -> None:
    result = chatledger("demo", "--db", db, cwd=tmp_path)

    assert "messages recorded" in result.stdout
    assert "token budget" in result.stdout


def test_demo_json_accounts_for_every_message(tmp_path: Path, db: str) -> None:
    result = chatledger("--json", "demo", "--db", db, cwd=tmp_path)

    report = json.loads(result.stdout)
    assert 20 <= report["recorded"] == len(report["messages"]) <= 30
    assert all(m["in_memory"] != bool(m["excluded"]) for m in report["messages"])
    assert report["in_memory"] == sum(m["in_memory"] for m in report["messages"])
    assert 0 < report["tokens"] <= report["budget"]


def test_demo_runs_twice_into_two_conversations(tmp_path: Path, db: str) -> None:
    first = json.loads(chatledger("--json", "demo", "--db", db, cwd=tmp_path).stdout)

    second = json.loads(chatledger("--json", "demo", "--db", db, cwd=tmp_path).stdout)

    assert first["conversation_id"] != second["conversation_id"]
    assert second["recorded"] == first["recorded"]


def test_the_demo_conversation_can_be_read_back(tmp_path: Path, db: str) -> None:
    report = json.loads(chatledger("--json", "demo", "--db", db, cwd=tmp_path).stdout)

    result = chatledger(
        "--db", db, "--json", "memory", report["conversation_id"],
        "--max-tokens", str(report["budget"]), cwd=tmp_path,
    )  # fmt: skip

    assert sorted(json.loads(result.stdout)["positions"]) == [
        m["position"] for m in report["messages"] if m["in_memory"]
    ]


@pytest.mark.postgres
def test_record_and_history_work_against_postgresql(tmp_path: Path, postgres_url: str) -> None:
    chatledger(
        "--db", postgres_url, "record", "c1", "--role", "user", "--content", "hi", cwd=tmp_path
    )

    result = chatledger("--db", postgres_url, "--json", "history", "c1", cwd=tmp_path)

    assert [entry["message"]["content"] for entry in json_lines(result)] == ["hi"]


@pytest.mark.postgres
def test_the_demo_runs_against_postgresql(tmp_path: Path, postgres_url: str) -> None:
    result = chatledger("--json", "demo", "--db", postgres_url, cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["recorded"] >= 20


def test_an_unreachable_database_exits_1_naming_the_server_but_not_the_password(
    tmp_path: Path,
) -> None:
    url = "postgresql://postgres:s3cret-pw@127.0.0.1:1/test?connect_timeout=1"

    result = chatledger("--db", url, "history", "c1", cwd=tmp_path)

    assert result.returncode == 1
    assert "127.0.0.1:1" in result.stderr
    assert "s3cret-pw" not in result.stderr
    assert "Traceback" not in result.stderr
