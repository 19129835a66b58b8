"""Window policies: how much of a conversation the model is shown."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from chatledger.domain.errors import InvalidInput


class _Policy(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    start_on_user: bool = False
    """Drop leading units until the first is a user message (some providers require it)."""

    def __init__(self, **data: object) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            error = exc.errors(include_url=False)[0]
            field = ".".join(str(part) for part in error["loc"]) or "policy"
            cause = (error.get("ctx") or {}).get("error")
            raise InvalidInput(field, str(cause) if cause else error["msg"]) from None


class MessageWindow(_Policy):
    """Keep the newest whole units while they and the system prompt number ``max_messages``."""

    kind: Literal["message_window"] = "message_window"
    max_messages: int = 20

    @field_validator("max_messages")
    @classmethod
    def _at_least_one(cls, value: int) -> int:
        if value < 1:
            raise ValueError(f"must be at least 1, got {value}")
        return value


class TokenWindow(_Policy):
    """Keep the newest whole units while the request's tokens stay at most ``max_tokens``."""

    kind: Literal["token_window"] = "token_window"
    max_tokens: int

    @field_validator("max_tokens")
    @classmethod
    def _at_least_one(cls, value: int) -> int:
        if value < 1:
            raise ValueError(f"must be at least 1, got {value}")
        return value


Policy = Annotated[MessageWindow | TokenWindow, Field(discriminator="kind")]
"""Either window policy; serialised with its ``kind``."""
