"""The audit trail beside a conversation: the model calls made from it."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from chatledger.domain.conversation import DomainEvent

# Re-exported: the governance events lived here before domain.governance held their rules.
from chatledger.domain.governance import Governance as Governance


class Usage(BaseModel):
    """Tokens the provider reported (and billed) for one call."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    prompt_tokens: int = Field(ge=0)
    completion_tokens: int = Field(ge=0)


class ModelCallLog(BaseModel):
    """The model calls made from one conversation; call number N is the stream's version N."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    @staticmethod
    def id_for(conversation_id: str) -> str:
        """The stream id; '/' never occurs in a conversation id, so none collide."""
        return f"calls/{conversation_id}"

    class CallRecorded(DomainEvent):
        """What the model received on one call, exactly enough to replay and prove it."""

        conversation_id: str
        position: int = Field(ge=0)
        """The history position the view was computed at."""
        positions: tuple[int, ...]
        message_ids: tuple[str, ...]
        system_position: int | None
        policy: dict[str, JsonValue]
        counter: str
        tokens: int = Field(ge=0)
        payload_sha256: str
        model: str
        response_id: str | None = None
        usage: Usage | None = None

        @property
        def number(self) -> int:
            """The call's 1-based number within its conversation."""
            return self.originator_version

    class UsageAttached(DomainEvent):
        """The provider's usage for an earlier call arrived."""

        call: int = Field(ge=1)
        usage: Usage


def canonical_policy(policy: BaseModel) -> dict[str, Any]:
    """A policy as the JSON object stored with a model call."""
    return policy.model_dump(mode="json")
