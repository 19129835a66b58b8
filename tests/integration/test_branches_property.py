"""Forks of random histories at random points, through a real ledger (hypothesis): a branch's
memory view is the reference fold over its parent's prefix and its own messages, at every
position, and reading it newest first agrees with the whole history."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from chatledger.domain import MessageWindow, TokenWindow
from chatledger.infrastructure import ChatLedger
from chatledger.projections import HistoryEntry, Policy, memory_of
from tests.fakes import FakeTokenCounter
from tests.integration.test_memory_changes_property import turn

POLICIES: tuple[Policy, ...] = (
    MessageWindow(max_messages=5),
    TokenWindow(max_tokens=45),
    MessageWindow(max_messages=99, start_on_user=True),
)
SHAPES = ("user", "assistant", "exchange", "open call", "system")
turns = st.lists(st.sampled_from(SHAPES), max_size=12)


@settings(max_examples=50, deadline=None)
@given(turns, turns, turns, st.data())
def test_a_branch_s_memory_is_the_fold_over_its_prefix_and_its_own(
    parent_turns: list[str], own_turns: list[str], grandchild_turns: list[str], data: st.DataObject
) -> None:
    overhead = FakeTokenCounter().request_overhead
    with ChatLedger.open("memory://", token_counter=FakeTokenCounter()) as ledger:
        said = [m for n, shape in enumerate(parent_turns) for m in turn(shape, n)]
        ledger.record("root", said or turn("user", 0))
        root = ledger.history("root").entries
        at = data.draw(st.integers(0, len(root)), label="fork point")
        branch = ledger.fork("root", at=at)
        mine = [m for n, shape in enumerate(own_turns) for m in turn(shape, 100 + n)]
        for message in mine:
            ledger.record(branch, message)
        own = ledger.history(branch).entries[at:]
        # What the branch holds past its fork point is what was recorded there, in order.
        assert [e.message.id for e in own] == [m.id for m in mine]
        assert [e.position for e in own] == list(range(at + 1, at + 1 + len(mine)))
        deeper_at = data.draw(st.integers(0, at + len(own)), label="second fork point")
        grandchild = ledger.fork(branch, at=deeper_at)
        theirs = [m for n, shape in enumerate(grandchild_turns) for m in turn(shape, 200 + n)]
        for message in theirs:
            ledger.record(grandchild, message)

        expected_branch: tuple[HistoryEntry, ...] = (*root[:at], *own)
        assert ledger.history(branch).entries == expected_branch
        deeper = ledger.history(grandchild).entries
        assert deeper[:deeper_at] == expected_branch[:deeper_at]
        assert [e.message.id for e in deeper[deeper_at:]] == [m.id for m in theirs]
        expected_grandchild = (*expected_branch[:deeper_at], *deeper[deeper_at:])
        for conversation, history in ((branch, expected_branch), (grandchild, expected_grandchild)):
            for policy in POLICIES:
                assert ledger.memory(conversation, policy) == memory_of(history, policy, overhead)
                position = data.draw(st.integers(0, len(history)), label="at")
                then = memory_of(history[:position], policy, overhead)
                assert ledger.memory(conversation, policy, at=position) == then
