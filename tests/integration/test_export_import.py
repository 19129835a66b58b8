"""Export to JSON lines and import again: idempotent, and clear about malformed lines."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os

import pytest

from chatledger.domain import ImagePart, MalformedLine, Message, TextPart, ToolCall
from chatledger.infrastructure import ChatLedger
from chatledger.infrastructure.services.transfer import parse_lines, write_jsonl
from tests.fakes import FakeTokenCounter


def exported(ledger: ChatLedger) -> str:
    out = io.StringIO()
    write_jsonl(ledger.export(), out)
    return out.getvalue()


@pytest.fixture
def source(ledger: ChatLedger) -> ChatLedger:
    ledger.record(
        "conv-a",
        [
            Message(role="system", content="Be kind."),
            Message(role="user", content="weather?"),
            Message(role="assistant", tool_calls=(ToolCall(id="c1", name="w", arguments="{ }"),)),
            Message(role="tool", tool_call_id="c1", content="sunny"),
        ],
    )
    ledger.record("conv-b", Message(role="user", content="hi"))
    return ledger


def test_export_writes_one_line_per_message_with_position_time_tokens_and_hash(
    source: ChatLedger,
) -> None:
    lines = [json.loads(line) for line in exported(source).splitlines()]

    assert [(line["conversation_id"], line["position"]) for line in lines] == [
        ("conv-a", 1),
        ("conv-a", 2),
        ("conv-a", 3),
        ("conv-a", 4),
        ("conv-b", 1),
    ]
    assert {"recorded_at", "tokens", "hash", "message"} <= set(lines[0])


def test_import_into_an_empty_ledger_recreates_the_history(source: ChatLedger) -> None:
    text = exported(source)
    with ChatLedger.open("memory://", FakeTokenCounter()) as target:
        report = target.import_lines(parse_lines(text.splitlines()))

        assert (report.recorded, report.unchanged) == (5, 0)
        assert target.history("conv-a").messages == source.history("conv-a").messages


def test_importing_twice_changes_nothing(source: ChatLedger) -> None:
    lines = parse_lines(exported(source).splitlines())
    with ChatLedger.open("memory://", FakeTokenCounter()) as target:
        target.import_lines(lines)
        report = target.import_lines(lines)

        assert (report.recorded, report.unchanged) == (0, 5)
        assert target.version("conv-a") == 4


def test_a_malformed_json_line_is_named_and_nothing_is_imported(source: ChatLedger) -> None:
    lines = exported(source).splitlines()
    lines[2] = '{"conversation_id": "conv-a", "message": {'

    with pytest.raises(MalformedLine) as raised:
        parse_lines(lines)

    assert raised.value.line == 3


def test_a_line_with_an_invalid_message_names_the_line_and_field(source: ChatLedger) -> None:
    lines = exported(source).splitlines()
    bad = json.loads(lines[1])
    bad["message"]["role"] = "wizard"
    lines[1] = json.dumps(bad)

    with pytest.raises(MalformedLine) as raised:
        parse_lines(lines)

    assert (raised.value.line, raised.value.field) == (2, "line 2: role")


def test_exporting_an_erased_conversation_carries_no_text(source: ChatLedger) -> None:
    source.erase("conv-a", reason="gdpr")

    lines = list(source.export("conv-a"))

    assert all(line["erased"] and line["message"]["content"] is None for line in lines)
    assert "sunny" not in json.dumps(lines)


IMAGE = os.urandom(200_000)


def with_image() -> Message:
    part = ImagePart(data=base64.b64encode(IMAGE).decode("ascii"), media_type="image/png")
    return Message(role="user", content=(TextPart(text="and this?"), part))


def test_an_export_carries_attachments_inline(source: ChatLedger) -> None:
    source.record("conv-b", with_image())

    line = list(source.export("conv-b"))[-1]

    assert line["message"]["content"][1]["data"] == base64.b64encode(IMAGE).decode("ascii")
    assert "attachment" not in line["message"]["content"][1]


def test_an_import_stores_exported_attachments_as_attachments_again(source: ChatLedger) -> None:
    source.record("conv-b", with_image())
    lines = parse_lines(exported(source).splitlines())

    with ChatLedger.open("memory://", FakeTokenCounter()) as target:
        target.import_lines(lines)
        again = target.import_lines(lines)

        assert target.history("conv-b").messages == source.history("conv-b").messages
        assert target.attachment("conv-b", hashlib.sha256(IMAGE).hexdigest()) == IMAGE
        assert len(target.application.attachments.sizes("conv-b")) == 1
        assert (again.recorded, again.unchanged) == (0, 6)
