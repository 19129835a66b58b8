"""Export to JSON lines and import again: idempotent, and clear about malformed lines."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from chatledger.domain import ImagePart, InvalidInput, MalformedLine, Message, TextPart, ToolCall
from chatledger.infrastructure import ChatLedger
from chatledger.infrastructure.services.transfer import parse_lines, write_jsonl
from chatledger.projections import TokenWindow
from tests.conftest import BACKENDS
from tests.fakes import FakeTokenCounter
from tests.postgres import fresh_schema


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


@pytest.fixture(params=BACKENDS)
def another_backend_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A second empty store, on each backend in turn, apart from the source's."""
    if request.param == "memory":
        yield "memory://"
    elif request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'restored.db'}"
    else:
        with fresh_schema(str(request.getfixturevalue("postgres_server_url"))) as url:
            yield url


def restored_into(text: str, url: str) -> ChatLedger:
    target = ChatLedger.open(url, FakeTokenCounter())
    target.import_lines(parse_lines(text.splitlines()))
    return target


def test_a_restored_export_verifies_against_a_checkpoint_of_the_source(
    source: ChatLedger, another_backend_url: str
) -> None:
    saved = source.checkpoint()
    text = exported(source)

    with restored_into(text, another_backend_url) as target:
        assert target.compare_checkpoint(saved) == []
        assert target.verify("conv-a").intact
        assert target.verify("conv-b").intact


def test_a_restored_conversation_keeps_its_times_tokens_and_links(
    source: ChatLedger, another_backend_url: str
) -> None:
    text = exported(source)

    with restored_into(text, another_backend_url) as target:
        assert list(target.export()) == [json.loads(x) for x in text.splitlines()]
        assert target.history("conv-a").entries == source.history("conv-a").entries


def test_restoring_twice_changes_nothing(source: ChatLedger) -> None:
    lines = parse_lines(exported(source).splitlines())
    with ChatLedger.open("memory://", FakeTokenCounter()) as target:
        first = target.import_lines(lines)
        again = target.import_lines(lines)

        assert (first.restored, first.unchanged) == (5, 0)
        assert (again.recorded, again.restored, again.unchanged) == (0, 0, 5)
        assert target.version("conv-a") == 4


def test_a_restored_conversation_records_on_under_its_chain(source: ChatLedger) -> None:
    with restored_into(exported(source), "memory://") as target:
        target.record("conv-a", Message(role="user", content="and tomorrow?"))

        assert target.verify("conv-a").intact
        assert target.version("conv-a") == 5


def test_a_message_edited_after_export_is_refused_and_nothing_is_imported(
    source: ChatLedger,
) -> None:
    lines = exported(source).splitlines()
    edited = json.loads(lines[3])
    edited["message"]["content"] = "stormy"
    lines[3] = json.dumps(edited)

    with ChatLedger.open("memory://", FakeTokenCounter()) as target:
        with pytest.raises(MalformedLine) as raised:
            target.import_lines(parse_lines(lines))

        assert (raised.value.line, raised.value.field) == (4, "line 4: message")
        assert "changed after export" in raised.value.problem
        assert target.version("conv-a") == 0
        assert target.version("conv-b") == 0


def test_a_time_or_count_edited_after_export_breaks_the_link(source: ChatLedger) -> None:
    lines = exported(source).splitlines()
    edited = json.loads(lines[1])
    edited["tokens"] += 1
    lines[1] = json.dumps(edited)

    with ChatLedger.open("memory://", FakeTokenCounter()) as target:
        with pytest.raises(MalformedLine) as raised:
            target.import_lines(parse_lines(lines))

        assert raised.value.field == "line 2: hash"
        assert target.version("conv-a") == 0


def test_a_conversation_here_with_another_history_is_refused(source: ChatLedger) -> None:
    text = exported(source)
    with ChatLedger.open("memory://", FakeTokenCounter()) as target:
        target.record("conv-a", Message(role="user", content="something else"))

        with pytest.raises(InvalidInput) as raised:
            target.import_lines(parse_lines(text.splitlines()))

        assert "another history" in raised.value.problem
        assert target.version("conv-a") == 1


def test_an_export_without_digests_is_recorded_afresh(source: ChatLedger) -> None:
    old = []
    for text in exported(source).splitlines():
        line = json.loads(text)
        for field in ("digest", "digests", "key"):
            line.pop(field, None)
        old.append(json.dumps(line))

    with ChatLedger.open("memory://", FakeTokenCounter()) as target:
        report = target.import_lines(parse_lines(old))

        assert (report.recorded, report.restored) == (5, 0)
        assert target.history("conv-a").messages == source.history("conv-a").messages


def test_a_developer_prompt_restores_with_its_place_as_the_prompt(source: ChatLedger) -> None:
    source.record(
        "conv-d",
        [Message(role="developer", content="Be terse."), Message(role="user", content="hi")],
    )
    saved = source.checkpoint()

    with restored_into(exported(source), "memory://") as target:
        assert target.compare_checkpoint(saved) == []
        assert target.memory("conv-d", TokenWindow(max_tokens=1000)).messages[0].role == "developer"
