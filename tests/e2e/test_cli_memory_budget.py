"""`chatledger memory` over a budget its system prompt alone exceeds says so, in both outputs."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli import run

TRIP = [
    {"role": "system", "content": "You are a travel assistant."},
    {"role": "user", "content": "Plan three days in Lisbon."},
    {"role": "assistant", "content": "Day one: Alfama."},
]


def record_trip(cwd: Path) -> None:
    body = "".join(json.dumps(message) + "\n" for message in TRIP)
    result = run("record", "trip", "--file", "-", cwd=cwd, stdin=body)
    assert result.returncode == 0, result.stderr


def test_memory_json_says_when_the_system_prompt_alone_is_over_budget(tmp_path: Path) -> None:
    record_trip(tmp_path)

    over = run("--json", "memory", "trip", "--max-tokens", "5", cwd=tmp_path)
    within = run("memory", "trip", "--max-tokens", "100", "--json", cwd=tmp_path)

    shown = json.loads(over.stdout)
    assert over.returncode == 0, over.stderr
    assert [message["role"] for message in shown["messages"]] == ["system"]
    assert shown["tokens"] > 5
    assert shown["over_budget"] is True
    assert json.loads(within.stdout)["over_budget"] is False


def test_the_memory_table_says_when_the_view_is_over_budget(tmp_path: Path) -> None:
    record_trip(tmp_path)

    over = run("memory", "trip", "--max-tokens", "5", cwd=tmp_path, env={"COLUMNS": "120"})
    within = run("memory", "trip", "--max-tokens", "100", cwd=tmp_path, env={"COLUMNS": "120"})

    assert over.returncode == 0, over.stderr
    assert "over budget" in over.stdout
    assert "--max-tokens 5" in over.stdout
    assert "over budget" not in within.stdout
