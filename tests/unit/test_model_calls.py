"""One model-call record: the event, the ModelCall callers see, its replay proof and its JSON."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import chatledger
from chatledger.domain import (
    Message,
    MessageWindow,
    ModelCall,
    ModelCallLog,
    TokenWindow,
    ToolCall,
    Usage,
    payload_digest,
    replay_differences,
)
from chatledger.infrastructure.entrypoints.http.schemas import ModelCallOut

AT = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
MESSAGES = (Message(id="m1", role="user", content="hi"), Message(id="m2", role="assistant"))


def event(**changes: Any) -> ModelCallLog.CallRecorded:
    fields: dict[str, Any] = {
        "originator_id": ModelCallLog.id_for("c1"),
        "originator_version": 3,
        "timestamp": AT,
        "conversation_id": "c1",
        "position": 5,
        "positions": (4, 5),
        "message_ids": ("m1", "m2"),
        "system_position": None,
        "policy": {"kind": "message_window", "max_messages": 2, "start_on_user": False},
        "counter": "fake:words",
        "tokens": 12,
        "payload_sha256": payload_digest(MESSAGES),
        "model": "gpt-test",
    }
    return ModelCallLog.CallRecorded(**{**fields, **changes})


RECORDED = ModelCall.recorded(event())


def test_the_call_an_event_recorded_is_numbered_by_the_event_version() -> None:
    assert RECORDED.number == 3


def test_the_call_an_event_recorded_was_recorded_at_the_event_time() -> None:
    assert RECORDED.recorded_at == AT


def test_the_call_an_event_recorded_carries_its_policy_as_a_policy() -> None:
    assert RECORDED.policy == MessageWindow(max_messages=2)


def test_the_call_an_event_recorded_carries_every_field_the_event_stored() -> None:
    recorded = event(response_id="resp_1", usage=Usage(prompt_tokens=10, completion_tokens=2))

    call = ModelCall.recorded(recorded)

    shared = set(call.model_dump()) - {"number", "recorded_at", "policy"}
    assert {name: getattr(call, name) for name in shared} == {
        name: getattr(recorded, name) for name in shared
    }


def test_a_call_stored_before_response_ids_and_usage_reads_with_neither() -> None:
    assert (RECORDED.response_id, RECORDED.usage) == (None, None)


def test_usage_attached_later_makes_a_new_call_and_leaves_the_old_one() -> None:
    usage = Usage(prompt_tokens=10, completion_tokens=2)

    attached = RECORDED.with_usage(usage)

    assert attached.usage == usage
    assert RECORDED.usage is None


def test_a_model_call_is_frozen() -> None:
    with pytest.raises(ValueError, match="frozen"):
        RECORDED.tokens = 1  # type: ignore[misc]  # the point: assignment is refused


def test_chatledger_exports_the_domain_model_call() -> None:
    assert chatledger.ModelCall is ModelCall


# Replay comparison


def replayed(**changes: Any) -> tuple[str, ...]:
    seen: dict[str, Any] = {
        "positions": RECORDED.positions,
        "message_ids": RECORDED.message_ids,
        "tokens": RECORDED.tokens,
        "payload_sha256": RECORDED.payload_sha256,
    }
    return replay_differences(RECORDED, **{**seen, **changes})


def test_a_replay_that_rebuilds_the_same_view_has_no_differences() -> None:
    assert replayed() == ()


def test_a_replay_showing_other_positions_names_both() -> None:
    assert replayed(positions=(3, 5)) == ("positions (3, 5) != recorded (4, 5)",)


def test_a_replay_showing_other_messages_says_the_ids_differ() -> None:
    assert replayed(message_ids=("m1", "m9")) == ("message ids differ",)


def test_a_replay_counting_other_tokens_names_both_counts() -> None:
    assert replayed(tokens=13) == ("tokens 13 != recorded 12",)


def test_a_replay_whose_payload_hashes_otherwise_says_so() -> None:
    assert replayed(payload_sha256="0" * 64) == ("payload sha256 differs",)


def test_every_difference_of_a_replay_is_reported_in_a_fixed_order() -> None:
    differences = replayed(positions=(5,), message_ids=(), tokens=0, payload_sha256="")

    assert [d.split()[0] for d in differences] == ["positions", "message", "tokens", "payload"]


@settings(max_examples=200, deadline=None)
@given(
    positions=st.sampled_from([(4, 5), (5,), ()]),
    message_ids=st.sampled_from([("m1", "m2"), ("m2",)]),
    tokens=st.sampled_from([12, 11]),
    payload_sha256=st.sampled_from([RECORDED.payload_sha256, "x"]),
)
def test_a_replay_is_identical_exactly_when_all_four_proofs_match(
    positions: tuple[int, ...], message_ids: tuple[str, ...], tokens: int, payload_sha256: str
) -> None:
    differences = replayed(
        positions=positions, message_ids=message_ids, tokens=tokens, payload_sha256=payload_sha256
    )

    matches = (
        positions == RECORDED.positions,
        message_ids == RECORDED.message_ids,
        tokens == RECORDED.tokens,
        payload_sha256 == RECORDED.payload_sha256,
    )
    assert len(differences) == matches.count(False)


def test_the_payload_digest_changes_with_any_message_content() -> None:
    edited = (MESSAGES[0].model_copy(update={"content": "hi!"}), MESSAGES[1])

    assert payload_digest(edited) != payload_digest(MESSAGES)


def test_the_payload_digest_depends_on_message_order() -> None:
    assert payload_digest(reversed(MESSAGES)) != payload_digest(MESSAGES)


# The HTTP response


def test_the_api_shows_a_model_call_with_the_fields_and_json_types_it_always_had() -> None:
    schema = ModelCallOut.model_json_schema(mode="serialization")

    types = {
        name: field.get("type") or [option.get("type") for option in field.get("anyOf", [])]
        for name, field in schema["properties"].items()
        if name not in ("policy", "usage")
    }
    assert types == {
        "number": "integer",
        "recorded_at": "string",
        "position": "integer",
        "positions": "array",
        "message_ids": "array",
        "system_position": ["integer", "null"],
        "counter": "string",
        "tokens": "integer",
        "payload_sha256": "string",
        "model": "string",
        "response_id": ["string", "null"],
        # Added with summaries: which one the model was shown, and the newest there was.
        "summary": ["integer", "null"],
        "summaries": "integer",
        # Added with memory changes: the newest clear or retraction the view applied.
        "changes": "integer",
    }
    assert set(schema["properties"]) >= {"policy", "usage"}
    assert set(schema["required"]) == set(schema["properties"])


def test_the_api_shows_a_call_as_the_record_holds_it() -> None:
    call = ModelCall.recorded(event(policy={"kind": "token_window", "max_tokens": 50}))

    shown = ModelCallOut.of(call)

    assert shown.model_dump() == call.model_dump()
    assert shown.policy == TokenWindow(max_tokens=50)


def test_a_plain_text_payload_digests_as_it_did_before_content_parts() -> None:
    call = Message(
        id="m3", role="assistant", tool_calls=(ToolCall(id="c", name="f", arguments="{}"),)
    )
    # The form every message had before content parts: a model call recorded then replays.
    before: list[dict[str, Any]] = [
        {
            "id": m.id,
            "role": m.role,
            "content": m.content,
            "name": None,
            "metadata": {},
            "tool_call_id": None,
            "tool_calls": [
                {"id": c.id, "name": c.name, "arguments": c.arguments} for c in m.tool_calls
            ],
        }
        for m in (*MESSAGES, call)
    ]
    text = json.dumps(before, sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    assert payload_digest((*MESSAGES, call)) == hashlib.sha256(text.encode("utf-8")).hexdigest()
