"""Export and import keep a conversation tree: branches come back with their parents, fork
points and fork links, verifying against a checkpoint of the source; on every backend."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from chatledger.domain import InvalidInput, MalformedLine, Message
from chatledger.infrastructure import ChatLedger
from chatledger.infrastructure.services.transfer import parse_lines, write_jsonl
from tests.fakes import FakeTokenCounter

ROOT = "trip"


def exported(ledger: ChatLedger, conversation: str | None = None) -> list[str]:
    out = io.StringIO()
    write_jsonl(ledger.export(conversation), out)
    return out.getvalue().splitlines()


@pytest.fixture
def tree(ledger: ChatLedger) -> tuple[ChatLedger, dict[str, str]]:
    """A root, an edit of it with a reply, a fresh regeneration on the edit, and a fork of it."""
    ledger.record(
        ROOT,
        [
            Message(role="system", content="You plan trips."),
            Message(role="user", content="Lisbon in May?"),
            Message(role="assistant", content="Warm."),
        ],
    )
    edited = ledger.edit(ROOT, 2, Message(role="user", content="Porto in May?"), new_id="zz-edit")
    ledger.record(edited, Message(role="assistant", content="Mild."))
    waiting = ledger.regenerate(edited, 3, new_id="aa-waiting")  # sorts before its parent
    deeper = ledger.fork(edited, at=2, new_id="mm-deeper")
    ledger.record(deeper, Message(role="assistant", content="Rainy."))
    return ledger, {"edited": edited, "waiting": waiting, "deeper": deeper}


def shape(ledger: ChatLedger) -> list[tuple[str, str | None, int, int]]:
    return [(b.conversation_id, b.parent, b.fork_point, b.length) for b in ledger.branches(ROOT)]


def test_an_imported_tree_has_its_branches_histories_and_chains(
    tree: tuple[ChatLedger, dict[str, str]], tmp_path: Path
) -> None:
    source, names = tree
    saved = source.checkpoint()

    with ChatLedger.open(f"sqlite:///{tmp_path / 'target.db'}", FakeTokenCounter()) as target:
        report = target.import_lines(parse_lines(exported(source)))

        assert shape(target) == shape(source)
        for conversation in (ROOT, *names.values()):
            assert target.history(conversation).entries == source.history(conversation).entries
            assert target.verify(conversation).intact
        assert target.compare_checkpoint(saved) == []
        assert report.restored == 3 + 2 + 1  # the root's, the edit's and the deeper fork's own


def test_importing_a_tree_twice_changes_nothing(
    tree: tuple[ChatLedger, dict[str, str]], tmp_path: Path
) -> None:
    source, _ = tree
    lines = parse_lines(exported(source))

    with ChatLedger.open(f"sqlite:///{tmp_path / 'target.db'}", FakeTokenCounter()) as target:
        target.import_lines(lines)
        again = target.import_lines(lines)

        assert again.recorded == 0
        assert shape(target) == shape(source)


def test_a_branch_without_its_parent_is_refused_and_nothing_written(
    tree: tuple[ChatLedger, dict[str, str]], tmp_path: Path
) -> None:
    source, names = tree
    alone = exported(source, names["deeper"])

    with ChatLedger.open(f"sqlite:///{tmp_path / 'target.db'}", FakeTokenCounter()) as target:
        with pytest.raises(InvalidInput) as raised:
            target.import_lines(parse_lines(alone))

        assert raised.value.field == "line 1"
        assert "import the tree whole" in raised.value.problem
        assert target.conversations() == []


def test_an_edited_fork_point_is_refused_naming_the_line(
    tree: tuple[ChatLedger, dict[str, str]],
) -> None:
    source, names = tree
    lines = exported(source)
    index = next(i for i, text in enumerate(lines) if '"fork"' in text and names["deeper"] in text)
    data = json.loads(lines[index])
    data["fork"]["fork_point"] = 1
    lines[index] = json.dumps(data)

    with pytest.raises(MalformedLine) as raised:
        parse_lines(lines)

    assert raised.value.field == f"line {index + 1}: fork"
    assert "changed after export" in str(raised.value)
