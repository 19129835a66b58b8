"""The branches contract on every backend, sync and async: fork, edit, regenerate, the tree."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from chatledger.domain import (
    ConversationErased,
    HeldByBranch,
    IdempotencyConflict,
    InvalidInput,
    Message,
    MessageWindow,
    SummaryWindow,
    TokenWindow,
    UnknownConversation,
)
from chatledger.infrastructure import ChatLedger
from chatledger.projections import memory_of
from tests.fakes import FakeTokenCounter

ROOT = "trip"
ALL = MessageWindow(max_messages=1000)


def say(role: str, text: str, message_id: str | None = None) -> Message:
    if message_id is None:
        return Message(role=role, content=text)  # type: ignore[arg-type]  # roles as test data
    return Message(id=message_id, role=role, content=text)  # type: ignore[arg-type]


def texts(ledger: ChatLedger, conversation: str) -> list[str]:
    return [str(entry.message.content) for entry in ledger.history(conversation).entries]


@pytest.fixture
def talking(ledger: ChatLedger) -> ChatLedger:
    """A system prompt and three turns in ``trip``: positions 1..7."""
    ledger.record(
        ROOT,
        [
            say("system", "You plan trips.", "m1"),
            say("user", "Lisbon in May?", "m2"),
            say("assistant", "Warm and dry.", "m3"),
            say("user", "And Porto?", "m4"),
            say("assistant", "Cooler, some rain.", "m5"),
            say("user", "Which one?", "m6"),
            say("assistant", "Lisbon.", "m7"),
        ],
    )
    return ledger


# Fork


def test_a_fork_shares_the_prefix_and_continues_its_positions(talking: ChatLedger) -> None:
    branch = talking.fork(ROOT, at=3)

    entry = talking.record(branch, say("user", "And Madrid?"))

    assert entry.position == 4
    assert texts(talking, branch) == [
        "You plan trips.", "Lisbon in May?", "Warm and dry.", "And Madrid?",
    ]  # fmt: skip
    assert talking.version(branch) == 4
    assert len(talking.history(ROOT).entries) == 7


def test_a_fresh_fork_holds_its_prefix_alone(talking: ChatLedger) -> None:
    branch = talking.fork(ROOT, at=5)

    assert talking.version(branch) == 5
    assert [e.position for e in talking.history(branch).entries] == [1, 2, 3, 4, 5]
    assert talking.memory(branch, ALL).positions == (1, 2, 3, 4, 5)


def test_a_fork_of_a_fork_shares_both_prefixes(talking: ChatLedger) -> None:
    first = talking.fork(ROOT, at=3)
    talking.record(first, [say("user", "Madrid?"), say("assistant", "Hot.")])
    second = talking.fork(first, at=4)

    talking.record(second, say("assistant", "Very hot in summer."))

    assert texts(talking, second)[2:] == ["Warm and dry.", "Madrid?", "Very hot in summer."]
    assert talking.history(second, limit=2).entries[0].message.content == "Madrid?"


def test_history_pages_across_the_fork_point(talking: ChatLedger) -> None:
    branch = talking.fork(ROOT, at=5)
    talking.record(branch, [say("user", f"branch {n}") for n in range(3)])

    newest = talking.history(branch, limit=4)
    following = talking.history(branch, after=3, limit=3)
    between = talking.history(branch, after=2, before=8)

    assert [e.position for e in newest.entries] == [5, 6, 7, 8]
    assert newest.entries[0].message.content == "Cooler, some rain."
    assert [e.position for e in following.entries] == [4, 5, 6]
    assert [e.position for e in between.entries] == [3, 4, 5, 6, 7]
    assert newest.length == 8


def test_a_point_in_time_of_a_fork_is_its_prefix_then_its_own(talking: ChatLedger) -> None:
    branch = talking.fork(ROOT, at=3)
    talking.record(branch, [say("user", "Madrid?"), say("assistant", "Hot.")])

    assert [e.position for e in talking.history(branch, at=2).entries] == [1, 2]
    assert talking.memory(branch, ALL, at=3).positions == (1, 2, 3)
    assert talking.memory(branch, ALL, at=4).messages[-1].content == "Madrid?"


def test_a_fork_s_memory_is_the_fold_of_the_prefix_and_its_own(talking: ChatLedger) -> None:
    branch = talking.fork(ROOT, at=4)
    talking.record(branch, [say("assistant", "Rainy."), say("user", "Thanks.")])

    for policy in (ALL, MessageWindow(max_messages=3), TokenWindow(max_tokens=30)):
        history = talking.history(branch).entries
        expected = memory_of(history, policy, FakeTokenCounter().request_overhead)
        assert talking.memory(branch, policy) == expected


def test_forking_changes_nothing_in_the_parent(talking: ChatLedger) -> None:
    before = (talking.history(ROOT).entries, talking.memory(ROOT, ALL), talking.verify(ROOT))

    branch = talking.fork(ROOT, at=2)
    talking.record(branch, say("assistant", "Hot."))

    assert (talking.history(ROOT).entries, talking.memory(ROOT, ALL), talking.verify(ROOT)) == (
        before
    )


def test_a_fork_is_named_in_the_parent_s_tenant_unless_named(ledger: ChatLedger) -> None:
    ledger.record("acme:trip", say("user", "hi"))

    branch = ledger.fork("acme:trip", at=1)
    named = ledger.fork("acme:trip", at=1, new_id="acme:other")

    assert branch.startswith("acme:")
    assert branch != "acme:trip"
    assert named == "acme:other"


@pytest.mark.parametrize(("at", "field"), [(8, "at"), (-1, "at"), (2**60, "at")])
def test_a_fork_past_the_history_names_the_field(talking: ChatLedger, at: int, field: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        talking.fork(ROOT, at=at)

    assert raised.value.field == field
    assert len(talking.branches(ROOT)) == 1


def test_a_fork_into_a_conversation_that_exists_is_refused(talking: ChatLedger) -> None:
    talking.record("taken", say("user", "hi"))

    with pytest.raises(InvalidInput) as raised:
        talking.fork(ROOT, at=2, new_id="taken")

    assert raised.value.field == "new_id"


def test_forking_what_was_never_recorded_is_unknown(ledger: ChatLedger) -> None:
    with pytest.raises(UnknownConversation):
        ledger.fork("never", at=0)


# Edit and regenerate


def test_edit_records_the_new_message_on_a_branch_and_keeps_the_old(talking: ChatLedger) -> None:
    branch = talking.edit(ROOT, 4, say("user", "And Seville?"))

    assert texts(talking, branch)[3:] == ["And Seville?"]
    assert texts(talking, ROOT)[3] == "And Porto?"


def test_regenerate_forks_before_the_reply_for_another_one(talking: ChatLedger) -> None:
    branch = talking.regenerate(ROOT, 7)
    talking.record(branch, say("assistant", "Porto."))

    assert texts(talking, branch)[-2:] == ["Which one?", "Porto."]
    assert talking.version(branch) == 7


def test_editing_past_the_history_names_the_position(talking: ChatLedger) -> None:
    with pytest.raises(InvalidInput) as raised:
        talking.edit(ROOT, 9, say("user", "?"))

    assert raised.value.field == "position"


def test_an_edit_the_branch_would_refuse_leaves_no_branch(talking: ChatLedger) -> None:
    too_big = Message(role="user", content="?", metadata={"note": "x" * 20_000})

    with pytest.raises(InvalidInput) as raised:
        talking.edit(ROOT, 4, too_big)

    assert raised.value.field == "message.metadata"
    assert len(talking.branches(ROOT)) == 1


def test_an_edit_reusing_a_shared_id_for_other_content_leaves_no_branch(
    talking: ChatLedger,
) -> None:
    with pytest.raises(IdempotencyConflict):
        talking.edit(ROOT, 4, say("user", "Not Lisbon.", "m2"))

    assert len(talking.branches(ROOT)) == 1
    assert talking.edit(ROOT, 4, say("user", "Lisbon in May?", "m4-b"))  # a new id is fine


def test_an_edit_repeating_a_message_the_branch_would_share_names_its_id_and_leaves_no_branch(
    talking: ChatLedger,
) -> None:
    with pytest.raises(InvalidInput) as raised:
        talking.edit(ROOT, 4, say("user", "Lisbon in May?", "m2"))

    assert raised.value.field == "message.id"
    assert "already recorded at position 2" in str(raised.value)
    assert len(talking.branches(ROOT)) == 1


def test_an_edit_may_reuse_the_id_of_the_message_it_replaces(talking: ChatLedger) -> None:
    branch = talking.edit(ROOT, 4, say("user", "And Faro?", "m4"))

    assert texts(talking, branch)[3:] == ["And Faro?"]
    assert texts(talking, ROOT)[3] == "And Porto?"


# The tree


def test_branches_lists_the_tree_with_parents_and_fork_points(talking: ChatLedger) -> None:
    first = talking.regenerate(ROOT, 7)
    second = talking.edit(first, 6, say("user", "Which is cheaper?"))

    tree = {b.conversation_id: b for b in talking.branches(second)}

    assert list(tree) == [ROOT, first, second]
    assert (tree[ROOT].parent, tree[ROOT].length) == (None, 7)
    assert (tree[first].parent, tree[first].fork_point, tree[first].length) == (ROOT, 6, 6)
    assert (tree[second].parent, tree[second].fork_point, tree[second].length) == (first, 5, 6)
    assert tree[ROOT].created_at <= tree[first].created_at <= tree[second].created_at


def test_siblings_are_the_alternatives_at_a_position_in_creation_order(
    talking: ChatLedger,
) -> None:
    second = talking.regenerate(ROOT, 7)
    talking.record(second, say("assistant", "Porto."))
    third = talking.regenerate(ROOT, 7)
    talking.record(third, say("assistant", "Both."))

    shown = talking.siblings(second, 7)

    assert [s.conversation_id for s in shown] == [ROOT, second, third]
    assert [s.number for s in shown] == [1, 2, 3]
    assert [s.current for s in shown] == [False, True, False]
    assert [s.conversation_id for s in talking.siblings(second, 6)] == [ROOT]


# Idempotency


def test_a_message_id_in_the_shared_prefix_is_recorded_on_the_fork(talking: ChatLedger) -> None:
    branch = talking.fork(ROOT, at=5)

    again = talking.record(branch, say("user", "Lisbon in May?", "m2"))

    assert again.position == 2
    assert talking.version(branch) == 5


def test_a_message_id_after_the_fork_point_is_the_fork_s_own(talking: ChatLedger) -> None:
    branch = talking.fork(ROOT, at=5)

    own = talking.record(branch, say("user", "Which one?", "m6"))

    assert own.position == 6
    assert talking.record(branch, say("user", "Which one?", "m6")).position == 6
    assert talking.version(branch) == 6


# Concurrency


def test_concurrent_records_on_parent_and_fork_each_lose_nothing(talking: ChatLedger) -> None:
    branch = talking.fork(ROOT, at=7)

    def write(target: str, n: int) -> None:
        talking.record(target, say("user", f"{target} {n}"))

    with ThreadPoolExecutor(max_workers=6) as pool:
        list(pool.map(lambda n: write(ROOT if n % 2 else branch, n), range(24)))

    assert talking.version(ROOT) == talking.version(branch) == 19
    assert all(text.startswith(ROOT) for text in texts(talking, ROOT)[7:])
    assert all(text.startswith(branch) for text in texts(talking, branch)[7:])


# Audit


def test_a_fork_verifies_with_its_prefix(talking: ChatLedger) -> None:
    branch = talking.fork(ROOT, at=3)
    talking.record(branch, say("user", "Madrid?"))

    verified = talking.verify(branch)

    assert verified.intact, verified.breaks
    assert verified.length == 4


def test_a_model_call_on_a_branch_replays_on_that_branch(talking: ChatLedger) -> None:
    branch = talking.regenerate(ROOT, 7)
    talking.record(branch, say("assistant", "Porto."))
    view = talking.memory(branch, ALL)
    call = talking.record_model_call(branch, view, model="m")

    talking.record(ROOT, say("user", "More on Lisbon?"))

    replay = talking.replay_model_call(branch, call.number)
    assert replay.identical, replay.differences
    assert replay.view.messages[-1].content == "Porto."


def test_memory_changes_the_parent_had_made_apply_to_the_fork(talking: ChatLedger) -> None:
    talking.retract(ROOT, 3)
    branch = talking.fork(ROOT, at=5)
    talking.clear(ROOT)  # made after the fork: the branch keeps its view

    assert talking.memory(branch, ALL).positions == (1, 2, 4, 5)
    talking.clear(branch)
    talking.record(branch, say("user", "New plan."))
    assert talking.memory(branch, ALL).positions == (1, 6)


# Erasure and holds


def test_erasing_a_fork_leaves_its_parent(talking: ChatLedger) -> None:
    branch = talking.edit(ROOT, 4, say("user", "And Seville?"))

    talking.erase(branch, reason="asked")

    assert texts(talking, ROOT)[3] == "And Porto?"
    with pytest.raises(ConversationErased):
        talking.memory(branch, ALL)


def test_a_fork_shows_its_erased_parent_s_prefix_erased(talking: ChatLedger) -> None:
    branch = talking.edit(ROOT, 4, say("user", "And Seville?"))

    talking.erase(ROOT, reason="asked")

    entries = talking.history(branch).entries
    assert [e.erased for e in entries] == [True, True, True, False]
    assert entries[3].message.content == "And Seville?"
    assert talking.memory(branch, ALL).messages == (entries[3].message,)
    assert talking.explain_memory(branch, ALL).view == talking.memory(branch, ALL)


def test_a_hold_on_a_branch_keeps_its_ancestors_from_erasure(talking: ChatLedger) -> None:
    branch = talking.edit(ROOT, 4, say("user", "And Seville?"))
    talking.set_legal_hold(branch, "case 17")

    with pytest.raises(HeldByBranch) as raised:
        talking.erase(ROOT, reason="asked")

    assert raised.value.branch == branch
    assert texts(talking, ROOT)[0] == "You plan trips."
    talking.set_legal_hold(branch, None)
    talking.erase(ROOT, reason="asked")
    assert talking.history(branch).entries[0].erased


def test_regenerating_twice_on_a_fresh_branch_verifies_every_branch(talking: ChatLedger) -> None:
    second = talking.regenerate(ROOT, 7)
    third = talking.regenerate(second, 7)  # forks the fresh branch at its own fork point
    talking.record(third, say("assistant", "Porto."))
    fourth = talking.fork(third, at=3)  # before every fork point above it

    for conversation in (second, third, fourth):
        verified = talking.verify(conversation)
        assert verified.intact, (conversation, verified.breaks)
    assert texts(talking, fourth) == texts(talking, ROOT)[:3]
    # The branch still waiting for its reply is an alternative too.
    assert [s.conversation_id for s in talking.siblings(third, 7)] == [ROOT, second, third]


def test_retention_spares_an_ancestor_of_a_held_branch(talking: ChatLedger) -> None:
    branch = talking.edit(ROOT, 4, say("user", "And Seville?"))
    talking.set_retention(ROOT, timedelta(days=1))
    talking.set_retention(branch, timedelta(days=1))
    talking.set_legal_hold(branch, "case 17")

    report = talking.apply_retention(now=datetime.now(UTC) + timedelta(days=30))

    assert ROOT not in report.erased
    assert (ROOT, f"branch {branch!r} is on hold: case 17") in report.held
    assert texts(talking, ROOT)[0] == "You plan trips."


def test_a_branch_s_summary_of_an_erased_prefix_is_neither_shown_nor_read(
    talking: ChatLedger,
) -> None:
    branch = talking.fork(ROOT, at=7)
    talking.record(branch, [say("user", f"question {n} about the trains there") for n in range(12)])
    talking.record_summary(branch, covers=7, text="Lisbon was chosen over Porto.")
    window = SummaryWindow(max_tokens=60)
    assert talking.memory(branch, window).summary is not None

    talking.erase(ROOT, reason="asked")

    assert talking.memory(branch, window).summary is None
    (listed,) = talking.summaries(branch)
    assert (listed.erased, listed.text) == (True, "")


def test_a_branch_s_own_summaries_survive_a_clear_it_inherited(talking: ChatLedger) -> None:
    talking.record_summary(ROOT, covers=5, text="Lisbon or Porto.")
    talking.clear(ROOT)
    branch = talking.fork(ROOT, at=7)
    talking.record(branch, [say("user", f"question {n} about the trains there") for n in range(12)])
    talking.record_summary(branch, covers=15, text="Trains, at length.")

    view = talking.memory(branch, SummaryWindow(max_tokens=60))

    assert view.summary is not None
    assert view.summary.covers == 15


def test_a_point_within_the_prefix_reads_as_the_parent_then(talking: ChatLedger) -> None:
    talking.clear(ROOT)  # recorded at 7
    branch = talking.fork(ROOT, at=4)

    for at in (2, 4):
        assert talking.memory(branch, ALL, at=at) == talking.memory(ROOT, ALL, at=at)
    assert talking.memory(branch, ALL).positions == (1,)  # the clear stays on the branch


def test_retracting_on_a_branch_what_its_parent_retracted_records_nothing(
    talking: ChatLedger,
) -> None:
    retraction = talking.retract(ROOT, 3)
    branch = talking.fork(ROOT, at=5)

    again = talking.retract(branch, 3)

    assert again == retraction
    assert talking.memory_changes(branch) == []
