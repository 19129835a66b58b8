"""Messages with parts, recorded and read with the installed `chatledger` executable."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from chatledger import (
    ChatLedger,
    Message,
    TokenWindow,
    messages_from_anthropic,
    messages_from_responses,
)
from tests.cli import run
from tests.fakes import FakeTokenCounter
from tests.payloads import (
    anthropic_thinking_tools,
    materialized,
    openai_parallel_calls,
    responses_reasoning_calls,
)

PNG = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQ"
    "AAAABJRU5ErkJggg=="
)
WIDE = {"COLUMNS": "220"}


@pytest.fixture
def db(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'parts.db'}"
    messages: list[dict[str, Any]] = [
        {"role": "developer", "content": "Describe images briefly."},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is this?"},
                {"type": "image", "data": PNG, "media_type": "image/png"},
                {"type": "file", "file_id": "file-42", "filename": "spec.pdf"},
            ],
        },
        {
            "role": "assistant",
            "content": [
                {
                    "type": "reasoning",
                    "provider": "anthropic",
                    "text": "One red pixel, so.",
                    "signature": "c2ln",
                },
                {"type": "refusal", "refusal": "I will not guess."},
            ],
        },
    ]
    lines = "".join(json.dumps(message) + "\n" for message in messages)
    result = run("--db", url, "record", "c1", "--file", "-", cwd=tmp_path, stdin=lines)
    assert result.returncode == 0, result.stderr
    return url


def test_history_shows_an_image_as_its_media_type_and_size(tmp_path: Path, db: str) -> None:
    result = run("--db", db, "history", "c1", cwd=tmp_path, env=WIDE)

    assert result.returncode == 0, result.stderr
    assert "What is this? [image image/png 70 bytes] [file spec.pdf file-42]" in result.stdout


def test_history_folds_reasoning_and_marks_a_refusal(tmp_path: Path, db: str) -> None:
    result = run("--db", db, "history", "c1", cwd=tmp_path, env=WIDE)

    assert (
        "[reasoning, anthropic: 18 characters folded] [refused] I will not guess." in result.stdout
    )
    assert "One red pixel" not in result.stdout


def test_a_developer_message_leads_the_memory_view(tmp_path: Path, db: str) -> None:
    result = run("--db", db, "--json", "memory", "c1", "--max-tokens", "100000", cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    messages = json.loads(result.stdout)["messages"]
    assert [m["role"] for m in messages] == ["developer", "user", "assistant"]
    image = messages[1]["content"][1]
    assert (image["type"], image["data"], image["media_type"]) == ("image", PNG, "image/png")


def test_a_part_of_an_unknown_type_is_named_and_nothing_is_recorded(
    tmp_path: Path, db: str
) -> None:
    line = json.dumps({"role": "user", "content": [{"type": "video", "url": "x"}]})

    result = run("--db", db, "record", "c1", "--file", "-", cwd=tmp_path, stdin=line + "\n")
    history = run("--db", db, "--json", "history", "c1", cwd=tmp_path)

    assert result.returncode == 2
    assert "content.0" in result.stderr
    assert "'video'" in result.stderr
    assert len(history.stdout.splitlines()) == 3


def test_the_audit_table_shows_a_parts_message_the_model_saw(tmp_path: Path, db: str) -> None:
    with ChatLedger.open(db, FakeTokenCounter()) as ledger:
        view = ledger.memory("c1", TokenWindow(max_tokens=100_000))
        ledger.record_model_call("c1", view, model="gpt-4o")

    result = run("--db", db, "audit", "c1", cwd=tmp_path, env=WIDE)

    assert result.returncode == 0, result.stderr
    assert "What is this? [image image/png 70 bytes]" in result.stdout
    assert "[refused] I will not guess." in result.stdout


@pytest.mark.parametrize(
    ("format", "objects"),
    [
        ("openai", openai_parallel_calls),
        ("responses", responses_reasoning_calls),
        ("anthropic", anthropic_thinking_tools),
    ],
)
def test_a_file_in_a_providers_shape_records_once_however_often_it_is_given(
    tmp_path: Path, format: str, objects: Callable[[], list[Any]]
) -> None:
    url = f"sqlite:///{tmp_path / 'provider.db'}"
    lines = "".join(json.dumps(item) + "\n" for item in materialized(objects()))
    (tmp_path / "turn.jsonl").write_text(lines)

    first = run(
        "--db", url, "record", "t", "--file", "turn.jsonl", "--format", format, cwd=tmp_path
    )
    again = run(
        "--db", url, "record", "t", "--file", "turn.jsonl", "--format", format, cwd=tmp_path
    )
    history = run("--db", url, "--json", "history", "t", cwd=tmp_path)

    assert first.returncode == 0, first.stderr
    assert again.returncode == 0, again.stderr
    assert len(history.stdout.splitlines()) == len(messages_of(format, objects()))


def messages_of(format: str, objects: list[Any]) -> list[Any]:
    if format == "openai":
        return [Message.from_openai(item) for item in objects]
    if format == "responses":
        return messages_from_responses(objects)
    return messages_from_anthropic(objects)


def test_a_bad_provider_line_is_named_by_its_line_number(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'provider.db'}"
    lines = '{"role": "user", "content": "hi"}\n\n{"role": "user", "content": [{"type": "x"}]}\n'

    result = run(
        "--db", url, "record", "t", "--file", "-", "--format", "openai", cwd=tmp_path, stdin=lines
    )

    assert result.returncode == 2
    assert "line 3: content.0.type" in result.stderr


def test_memory_renders_for_a_provider_and_says_what_it_left_out(tmp_path: Path, db: str) -> None:
    result = run("--db", db, "memory", "c1", "--render", "anthropic", cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    rendered = json.loads(result.stdout)
    assert rendered["payload"]["system"] == "Describe images briefly."
    assert [turn["role"] for turn in rendered["payload"]["messages"]] == ["user", "assistant"]
    # Anthropic has no refusal block: the refusal goes as text, and the rendering says so.
    assert [(o["position"], o["kind"]) for o in rendered["omitted"]] == [(3, "refusal")]
    openai = run("--db", db, "memory", "c1", "--render", "openai", cwd=tmp_path)
    kinds = [omission["kind"] for omission in json.loads(openai.stdout)["omitted"]]
    assert "reasoning" in kinds
    assert "left out at position 3" in openai.stderr
