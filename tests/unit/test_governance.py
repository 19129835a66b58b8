"""Governance rules without a store: retention, legal holds and what erasure leaves behind."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chatledger.domain import (
    ConversationErased,
    ConversationRecord,
    InvalidInput,
    Role,
    UnknownConversation,
    check_governable,
    due_for_erasure,
    erased_message,
)
from chatledger.domain.governance import (
    check_erasable,
    check_hold_reason,
    retention_erasure_reason,
    retention_seconds,
)

START = datetime(2026, 1, 1, tzinfo=UTC)
DAY = timedelta(days=1)
PROPERTY = settings(max_examples=300, deadline=None)
ROLES: tuple[Role, ...] = ("system", "user", "assistant", "tool")


def record(
    conversation_id: str = "c1",
    *,
    retention: timedelta | None = 30 * DAY,
    legal_hold: str | None = None,
    erased_at: datetime | None = None,
) -> ConversationRecord:
    return ConversationRecord(
        conversation_id=conversation_id,
        created_at=START,
        retention=retention,
        legal_hold=legal_hold,
        erased_at=erased_at,
        erasure_reason=None if erased_at is None else "asked to",
    )


def never_active(_: ConversationRecord) -> datetime | None:
    return None


# Retention


def test_a_conversation_is_due_once_its_retention_has_run_out_since_it_began() -> None:
    report = due_for_erasure([record()], never_active, START + 30 * DAY)

    assert report.erased == ("c1",)


def test_a_conversation_is_not_due_a_moment_before_its_retention_runs_out() -> None:
    report = due_for_erasure([record()], never_active, START + 30 * DAY - timedelta(seconds=1))

    assert report.erased == ()


def test_retention_is_counted_from_the_last_message() -> None:
    def active_ten_days_in(_: ConversationRecord) -> datetime:
        return START + 10 * DAY

    report = due_for_erasure([record()], active_ten_days_in, START + 31 * DAY)

    assert report.erased == ()


def test_a_conversation_without_retention_is_never_due() -> None:
    report = due_for_erasure([record(retention=None)], never_active, START + 10_000 * DAY)

    assert report.erased == ()


def test_a_legal_hold_keeps_a_due_conversation_and_reports_its_reason() -> None:
    report = due_for_erasure([record(legal_hold="case 42")], never_active, START + 31 * DAY)

    assert report.erased == ()
    assert report.held == (("c1", "case 42"),)


def test_a_hold_on_a_conversation_not_yet_due_is_not_reported() -> None:
    report = due_for_erasure([record(legal_hold="case 42")], never_active, START + DAY)

    assert report.held == ()


def test_an_erased_conversation_is_never_due_again() -> None:
    report = due_for_erasure([record(erased_at=START + DAY)], never_active, START + 31 * DAY)

    assert report.erased == ()


def test_last_activity_is_asked_only_about_conversations_under_retention() -> None:
    asked: list[str] = []

    def last_activity(of: ConversationRecord) -> datetime | None:
        asked.append(of.conversation_id)
        return None

    due_for_erasure(
        [record("kept", retention=None), record("gone", erased_at=START), record("timed")],
        last_activity,
        START,
    )

    assert asked == ["timed"]


def test_conversations_are_reported_in_the_order_they_were_given() -> None:
    records = [record(name) for name in ("b", "a", "c")]

    assert due_for_erasure(records, never_active, START + 31 * DAY).erased == ("b", "a", "c")


def test_the_retention_erasure_reason_names_the_period() -> None:
    assert retention_erasure_reason(30 * DAY) == "retention of 30 days, 0:00:00 ran out"


records_drawn = st.lists(
    st.builds(
        record,
        conversation_id=st.sampled_from(["a", "b", "c", "d"]),
        retention=st.none() | st.integers(1, 100).map(lambda days: days * DAY),
        legal_hold=st.none() | st.just("case 42"),
        erased_at=st.none() | st.just(START),
    ),
    max_size=4,
    unique_by=lambda r: r.conversation_id,
)
activity_drawn = st.dictionaries(
    st.sampled_from(["a", "b", "c", "d"]), st.integers(0, 100).map(lambda d: START + d * DAY)
)
moments = st.integers(0, 300).map(lambda days: START + days * DAY)


@PROPERTY
@given(records_drawn, activity_drawn, moments)
def test_a_held_or_erased_conversation_is_never_erased_by_retention(
    records: list[ConversationRecord], activity: dict[str, datetime], now: datetime
) -> None:
    report = due_for_erasure(records, lambda r: activity.get(r.conversation_id), now)

    spared = {r.conversation_id for r in records if r.held or r.erased}
    assert spared.isdisjoint(report.erased)


@PROPERTY
@given(records_drawn, activity_drawn, moments)
def test_each_due_conversation_is_either_erased_or_held_never_both(
    records: list[ConversationRecord], activity: dict[str, datetime], now: datetime
) -> None:
    report = due_for_erasure(records, lambda r: activity.get(r.conversation_id), now)

    due = [
        r
        for r in records
        if (ends := r.retention_ends(activity.get(r.conversation_id))) is not None and ends <= now
    ]
    assert len(report.erased) + len(report.held) == len(due)
    assert [r.conversation_id for r in due if not r.held] == list(report.erased)
    assert [r.conversation_id for r in due if r.held] == [held for held, _ in report.held]


@PROPERTY
@given(records_drawn, activity_drawn, moments, st.integers(0, 300))
def test_what_is_due_stays_due_as_time_passes(
    records: list[ConversationRecord], activity: dict[str, datetime], now: datetime, later: int
) -> None:
    def last(r: ConversationRecord) -> datetime | None:
        return activity.get(r.conversation_id)

    earlier = due_for_erasure(records, last, now)
    after = due_for_erasure(records, last, now + later * DAY)

    assert set(earlier.erased) <= set(after.erased)
    assert set(earlier.held) <= set(after.held)


# What held and erased conversations refuse


def test_the_retention_of_an_erased_conversation_cannot_change() -> None:
    with pytest.raises(ConversationErased) as raised:
        check_governable("c1", record(erased_at=START))

    assert raised.value.erased_at == START


def test_the_governance_of_a_conversation_never_recorded_cannot_change() -> None:
    with pytest.raises(UnknownConversation):
        check_governable("c1", None)


def test_a_held_conversation_may_still_change_its_retention_and_hold() -> None:
    held = record(legal_hold="case 42")

    assert check_governable("c1", held) is held


def test_a_held_conversation_may_still_be_erased_explicitly() -> None:
    check_erasable("c1", record(legal_hold="case 42"), reason="court order")


def test_an_erased_conversation_may_be_erased_again() -> None:
    check_erasable("c1", record(erased_at=START), reason="asked twice")


def test_an_erasure_needs_a_reason() -> None:
    with pytest.raises(InvalidInput) as raised:
        check_erasable("c1", record(), reason="  ")

    assert raised.value.field == "reason"


def test_a_conversation_never_recorded_cannot_be_erased() -> None:
    with pytest.raises(UnknownConversation):
        check_erasable("c1", None, reason="asked to")


def test_a_legal_hold_needs_a_reason() -> None:
    with pytest.raises(InvalidInput) as raised:
        check_hold_reason("")

    assert raised.value.field == "reason"


def test_lifting_a_hold_needs_no_reason() -> None:
    assert check_hold_reason(None) is None


def test_a_retention_under_a_second_is_refused() -> None:
    with pytest.raises(InvalidInput) as raised:
        retention_seconds(timedelta(milliseconds=999))

    assert raised.value.field == "retention"


def test_a_retention_is_stored_in_whole_seconds() -> None:
    assert retention_seconds(timedelta(days=1, milliseconds=500)) == 86_400


def test_no_retention_is_stored_as_none() -> None:
    assert retention_seconds(None) is None


# The erased form of a message


@pytest.mark.parametrize("role", ROLES)
def test_an_erased_message_keeps_its_role_and_place_and_loses_its_content(role: Role) -> None:
    message = erased_message(role, 7)

    assert (message.role, message.id, message.content) == (role, "erased-7", None)
    assert message.metadata == {"erased": True}
    assert message.tool_calls == ()


def test_an_erased_tool_result_still_answers_a_call_so_it_stays_valid() -> None:
    assert erased_message("tool", 3).tool_call_id == "erased"


def test_an_erased_message_other_than_a_tool_result_answers_no_call() -> None:
    assert erased_message("assistant", 3).tool_call_id is None
