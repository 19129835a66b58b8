"""Tamper evidence of branches against real rows, SQLite and PostgreSQL: a branch's verify checks
the prefix it shares, in its ancestors' rows, and its own fork link."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import cast

import pytest

from chatledger.domain import Conversation, Message
from chatledger.infrastructure import ChatLedger
from tests.fakes import FakeTokenCounter
from tests.integration.test_tamper_evidence import CONV, RawRows

BRANCH = "conv-audit-branch"
GRANDCHILD = "conv-audit-grandchild"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def forked(request: pytest.FixtureRequest) -> Iterator[tuple[ChatLedger, RawRows]]:
    """Five messages in CONV; BRANCH forked at 3 with two of its own; GRANDCHILD forked from
    BRANCH at 4 with one."""
    url = str(request.getfixturevalue(f"{request.param}_url"))
    with ChatLedger.open(url, FakeTokenCounter()) as ledger:
        ledger.record(CONV, [Message(role="user", content=f"message {i}") for i in range(1, 6)])
        ledger.fork(CONV, at=3, new_id=BRANCH)
        ledger.record(BRANCH, [Message(role="user", content=f"branch {i}") for i in (4, 5)])
        ledger.fork(BRANCH, at=4, new_id=GRANDCHILD)
        ledger.record(GRANDCHILD, Message(role="user", content="grandchild 5"))
        yield ledger, RawRows(url)


def problems(ledger: ChatLedger, conversation: str) -> list[str]:
    return [
        f"{b.conversation_id}@{b.position}: {b.problem}" for b in ledger.verify(conversation).breaks
    ]


def test_untouched_branches_verify(forked: tuple[ChatLedger, RawRows]) -> None:
    ledger, _ = forked

    assert problems(ledger, BRANCH) == problems(ledger, GRANDCHILD) == []


def test_a_message_altered_in_the_shared_prefix_is_caught_from_the_branch(
    forked: tuple[ChatLedger, RawRows],
) -> None:
    ledger, raw = forked
    _, state = raw.row(3)  # position 2 of CONV, shared by both branches
    data = json.loads(state)
    data["tokens"] += 1

    raw.set_state(3, json.dumps(data).encode())

    assert problems(ledger, BRANCH)[0].startswith(f"{CONV}@2: altered")
    assert problems(ledger, GRANDCHILD)[0].startswith(f"{CONV}@2: altered")


def test_a_prefix_rewritten_with_its_chain_is_caught_by_the_fork_link(
    forked: tuple[ChatLedger, RawRows],
) -> None:
    ledger, raw = forked
    events = cast(list[Conversation.MessageRecorded], list(ledger.application.events.get(CONV)))
    # Someone with write access rewrites position 3 and re-chains it, so CONV verifies alone.
    third = events[3]
    rewritten = third.model_copy(update={"tokens": third.tokens + 1})
    rechained = rewritten.model_copy(update={"chain": rewritten.link(events[2].chain)})
    _, state = raw.row(4)
    data = json.loads(state)
    data["tokens"], data["chain"] = rechained.tokens, rechained.chain
    raw.set_state(4, json.dumps(data).encode())
    # ...and the rows after it (4 and 5 of CONV) are not shared, so rechain them too.
    previous = rechained.chain
    for version in (5, 6):
        event = events[version - 1]
        link = event.link(previous)
        _, state = raw.row(version)
        data = json.loads(state)
        data["chain"] = link
        raw.set_state(version, json.dumps(data).encode())
        previous = link

    assert problems(ledger, CONV) == []
    assert problems(ledger, BRANCH) == [
        f"{BRANCH}@3: altered: the prefix shared with {CONV!r} is not the one it forked"
    ]


def test_a_deleted_prefix_row_is_reported_from_the_grandchild(
    forked: tuple[ChatLedger, RawRows],
) -> None:
    ledger, raw = forked

    raw.delete(2)  # CONV's position 1

    found = problems(ledger, GRANDCHILD)
    assert found[0] == f"{CONV}@1: missing: the next stored row is position 2"


def test_a_fork_s_inherited_changes_altered_are_caught(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    with ChatLedger.open(url, FakeTokenCounter()) as ledger:
        ledger.record(CONV, [Message(role="user", content=f"message {i}") for i in range(1, 4)])
        ledger.retract(CONV, 2)
        ledger.fork(CONV, at=3, new_id=BRANCH)
        raw = RawRows(url)
        (state,) = raw.execute(
            f"SELECT state FROM {raw.table} WHERE originator_id = ? AND originator_version = 1",
            (BRANCH,),
        )[0]
        data = json.loads(bytes(state))
        data["changes"] = 0  # the retraction would come back into the branch's memory
        raw.execute(
            f"UPDATE {raw.table} SET state = ? WHERE originator_id = ? AND originator_version = 1",
            (json.dumps(data).encode(), BRANCH),
        )

        assert problems(ledger, BRANCH) == [f"{BRANCH}@3: altered: its fork link does not follow"]
