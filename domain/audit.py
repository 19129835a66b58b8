"""The audit trail beside a conversation: the model calls made from it, and how to prove them.

A model call is written once, as ``ModelCallLog.CallRecorded``; ``ModelCall`` is the same
record as callers see it, numbered and with its policy as a ``Policy``. Both take their common
fields from one base, so the stored event and the API cannot drift apart.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from chatledger.domain.attachments import referenced
from chatledger.domain.conversation import DomainEvent

# Re-exported: the governance events lived here before domain.governance held their rules.
from chatledger.domain.governance import Governance as Governance
from chatledger.domain.messages import Message
from chatledger.domain.policies import Policy


class Usage(BaseModel):
    """Tokens the provider reported (and billed) for one call."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    prompt_tokens: int = Field(ge=0)
    completion_tokens: int = Field(ge=0)


class _CallFields(BaseModel):
    """What one model call showed which model: the fields its event and ModelCall share.

    A field added here later needs a default that is right for events stored before it.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    position: int = Field(ge=0)
    """The history position the view was computed at."""
    positions: tuple[int, ...]
    """The positions of the messages the model was shown, oldest first."""
    message_ids: tuple[str, ...]
    system_position: int | None
    counter: str
    """The token counter that priced the view."""
    tokens: int = Field(ge=0)
    payload_sha256: str
    """sha256 of the shown messages as canonical JSON (``payload_digest``); for a conversation
    of the keyed digest scheme, ``hmac-sha256:`` and an HMAC under its key."""
    model: str
    response_id: str | None = None
    usage: Usage | None = None
    summary: int | None = None
    """The number of the summary the model was shown (a ``SummaryWindow`` view), if any."""
    summaries: int = Field(default=0, ge=0)
    """The newest summary there was to choose from, so a replay chooses among the same."""
    changes: int = Field(default=0, ge=0)
    """The newest memory change (a clear or a retraction) the view applied, so a replay
    applies the same ones; 0 for calls recorded before memory changes existed."""


class ModelCallLog(BaseModel):
    """The model calls made from one conversation; call number N is the stream's version N."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    @staticmethod
    def id_for(conversation_id: str) -> str:
        """The stream id; '/' never occurs in a conversation id, so none collide."""
        return f"calls/{conversation_id}"

    class CallRecorded(DomainEvent, _CallFields):
        """What the model received on one call, exactly enough to replay and prove it."""

        conversation_id: str
        policy: dict[str, JsonValue]
        """The policy as stored JSON, so a policy's own rules never make an old call unreadable."""

        @property
        def number(self) -> int:
            """The call's 1-based number within its conversation."""
            return self.originator_version

    class UsageAttached(DomainEvent):
        """The provider's usage for an earlier call arrived."""

        call: int = Field(ge=1)
        usage: Usage


class ModelCall(_CallFields):
    """One recorded model call, with the provider's usage once it is known."""

    # Serialised, a call always carries response_id and usage (null when unknown).
    model_config = ConfigDict(json_schema_serialization_defaults_required=True)

    number: int = Field(ge=1)
    """The call's 1-based number within its conversation."""
    recorded_at: datetime
    policy: Policy

    @classmethod
    def recorded(cls, event: ModelCallLog.CallRecorded) -> ModelCall:
        """The call that ``event`` recorded."""
        shared = {name: getattr(event, name) for name in _CallFields.model_fields}
        return cls.model_validate(
            {
                **shared,
                "number": event.number,
                "recorded_at": event.timestamp,
                "policy": event.policy,
            }
        )

    def with_usage(self, usage: Usage) -> ModelCall:
        """The same call with the provider's usage attached."""
        return self.model_copy(update={"usage": usage})


def canonical_policy(policy: Policy) -> dict[str, Any]:
    """A policy as the JSON object stored with a model call."""
    return policy.model_dump(mode="json")


KEYED_PAYLOAD = "hmac-sha256:"
"""Put before a keyed payload digest, which conversations of the keyed digest scheme record."""


def canonical_payload(messages: Iterable[Message]) -> bytes:
    """The messages as canonical JSON (sorted keys, no spaces, UTF-8), as payload digests cover.

    Each message in its stored form, so a message of plain text has the payload it had before
    content parts; binary data as its attachment reference (its sha256, media type and size),
    so a view with its attachments inlined and the same view without have one payload digest.
    """
    payload = json.dumps(
        [referenced(message).stored_form() for message in messages],
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return payload.encode("utf-8")


def payload_digest(messages: Iterable[Message]) -> str:
    """sha256 of the messages as canonical JSON: what a model call's payload is proven by.

    Conversations of the keyed digest scheme record ``KEYED_PAYLOAD`` and an HMAC instead,
    under a key erasure destroys, so a recorded call confirms no guess of erased text.
    """
    return hashlib.sha256(canonical_payload(messages)).hexdigest()


def replay_differences(
    recorded: ModelCall,
    *,
    positions: tuple[int, ...],
    message_ids: tuple[str, ...],
    tokens: int,
    payload_sha256: str,
    summary: int | None = None,
) -> tuple[str, ...]:
    """How a view rebuilt for ``recorded`` differs from what was recorded; () when identical.

    Each difference is one phrase, naming both sides where they are short enough to show.
    """
    differences = []
    if positions != recorded.positions:
        differences.append(f"positions {positions} != recorded {recorded.positions}")
    if message_ids != recorded.message_ids:
        differences.append("message ids differ")
    if summary != recorded.summary:
        differences.append(f"summary {summary} != recorded {recorded.summary}")
    if tokens != recorded.tokens:
        differences.append(f"tokens {tokens} != recorded {recorded.tokens}")
    if payload_sha256 != recorded.payload_sha256:
        differences.append("payload sha256 differs")
    return tuple(differences)
