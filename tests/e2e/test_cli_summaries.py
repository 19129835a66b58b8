"""`chatledger compact`, `summaries` and `memory --summaries` driven as a user would."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.e2e.test_cli import chatledger, record
from tests.integration.test_openai_summarizer import Endpoint, loopback

REPLY = "The user asked about the weather for ten turns; it was sunny every time."


@pytest.fixture
def db(tmp_path: Path) -> str:
    """A SQLite file holding conversation c1: a system prompt and ten turns."""
    url = f"sqlite:///{tmp_path / 'x.db'}"
    turns = [
        message
        for turn in range(10)
        for message in (
            {"role": "user", "content": f"What is the weather like on day {turn}?"},
            {"role": "assistant", "content": f"On day {turn} it is sunny and warm."},
        )
    ]
    record(tmp_path, url, "c1", {"role": "system", "content": "You forecast."}, *turns)
    return url


def test_compact_records_the_endpoints_summary_and_memory_shows_it(tmp_path: Path, db: str) -> None:
    endpoint = Endpoint(reply=REPLY)
    with loopback(endpoint) as url:
        compacted = chatledger(
            "--db", db, "compact", "c1", "--base-url", url, "--model", "loop-model",
            "--max-tokens", "120", "--json", cwd=tmp_path,
        )  # fmt: skip

    memory = chatledger(
        "--db", db, "memory", "c1", "--max-tokens", "120", "--summaries", "--json", cwd=tmp_path
    )
    assert compacted.returncode == 0, compacted.stderr
    summary = json.loads(compacted.stdout)
    assert (summary["text"], summary["model"]) == (REPLY, "loop-model")
    assert endpoint.requests[0]["model"] == "loop-model"
    shown = json.loads(memory.stdout)
    assert shown["summary"]["covers"] == summary["covers"]
    assert shown["messages"][1]["content"].endswith(REPLY)


def test_compact_when_the_endpoint_fails_exits_1_and_records_nothing(
    tmp_path: Path, db: str
) -> None:
    with loopback(Endpoint(status=500)) as url:
        compacted = chatledger(
            "--db", db, "compact", "c1", "--base-url", url, "--model", "m",
            "--max-tokens", "120", cwd=tmp_path,
        )  # fmt: skip

    listed = chatledger("--db", db, "summaries", "c1", "--json", cwd=tmp_path)
    assert compacted.returncode == 1
    assert "nothing was recorded" in compacted.stderr
    assert listed.stdout == ""


def test_summaries_lists_each_with_its_coverage(tmp_path: Path, db: str) -> None:
    with loopback(Endpoint(reply=REPLY)) as url:
        chatledger(
            "--db", db, "compact", "c1", "--base-url", url, "--model", "m",
            "--max-tokens", "120", cwd=tmp_path,
        )  # fmt: skip

    listed = chatledger("--db", db, "summaries", "c1", cwd=tmp_path)

    assert listed.returncode == 0, listed.stderr
    assert re.search(r"│ 1 +│ 1-\d+ +│", listed.stdout), listed.stdout
    assert "sunny every time." in listed.stdout  # the text folds over lines, whole


def test_memory_as_prompt_text_prints_one_system_prompt(tmp_path: Path, db: str) -> None:
    shown = chatledger(
        "--db", db, "memory", "c1", "--max-tokens", "40", "--prompt-text", cwd=tmp_path
    )

    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith("You forecast.\n")
    assert "assistant: On day 9 it is sunny and warm." in shown.stdout


def test_compact_without_a_base_url_exits_2(tmp_path: Path, db: str) -> None:
    result = chatledger("--db", db, "compact", "c1", "--model", "m", cwd=tmp_path)

    assert result.returncode == 2
    assert "--base-url" in result.stderr
