"""Window policies: how much of a conversation the model is shown."""

from __future__ import annotations

import string
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from chatledger.domain.errors import InvalidInput
from chatledger.domain.messages import Message
from chatledger.domain.validation import check_text_value


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


DEFAULT_SUMMARY_TEMPLATE = "Summary of the earlier conversation:\n{summary}"
"""How a summary is shown unless ``SummaryWindow.summary_template`` says otherwise."""
DEFAULT_SUMMARY_ROLE: Literal["user"] = "user"
"""The role a summary is shown in by default: every provider takes a user turn anywhere."""
MAX_TEMPLATE_CHARACTERS = 10_000
SUMMARY_FIELDS = frozenset({"summary", "covers"})


class SummaryWindow(_Policy):
    """A token window whose oldest part the newest useful summary stands in for.

    The view is the system prompt, the newest summary (as of the view's position) that helps,
    rendered as one message, then the newest whole units after what it covers, while the
    request stays within ``max_tokens``. A summary helps when a ``TokenWindow`` would leave
    something out, it fits beside the system prompt, and at least one unit after it fits too.
    With none that helps, the view is exactly ``TokenWindow``'s.
    """

    kind: Literal["summary_window"] = "summary_window"
    max_tokens: int
    summary_role: Literal["user", "assistant", "system", "developer"] = DEFAULT_SUMMARY_ROLE
    """The role of the message the summary is shown as."""
    summary_template: str = DEFAULT_SUMMARY_TEMPLATE
    """The summary message's text: ``{summary}`` is the summary, ``{covers}`` the last
    position it stands for. A template other than the default is counted when the view is
    built; the default's count is stored with each summary."""
    compact_after_tokens: int | None = None
    """``compact`` records a summary only once the units left out reach this many tokens."""

    @field_validator("max_tokens")
    @classmethod
    def _at_least_one(cls, value: int) -> int:
        if value < 1:
            raise ValueError(f"must be at least 1, got {value}")
        return value

    @field_validator("compact_after_tokens")
    @classmethod
    def _threshold(cls, value: int | None) -> int | None:
        if value is not None and value < 1:
            raise ValueError(f"must be at least 1, got {value}")
        return value

    @field_validator("summary_template")
    @classmethod
    def _template(cls, value: str) -> str:
        check_template(value, SUMMARY_FIELDS, required=("summary",))
        return value

    @property
    def renders_by_default(self) -> bool:
        """Whether summaries show as the stored token counts priced them."""
        return (self.summary_role, self.summary_template) == (
            DEFAULT_SUMMARY_ROLE,
            DEFAULT_SUMMARY_TEMPLATE,
        )

    def summary_message(self, number: int, covers: int, text: str) -> Message:
        """Summary #``number`` of messages 1..``covers`` as the message a view shows."""
        return summary_message(
            number, covers, text, role=self.summary_role, template=self.summary_template
        )


def summary_message(
    number: int,
    covers: int,
    text: str,
    *,
    role: Literal["user", "assistant", "system", "developer"] = DEFAULT_SUMMARY_ROLE,
    template: str = DEFAULT_SUMMARY_TEMPLATE,
) -> Message:
    """A summary as a message: a stable id, so replays name the same message, and its coverage
    in the metadata."""
    return Message(
        id=f"summary-{number}",
        role=role,
        content=template.format(summary=text, covers=covers),
        metadata={"summary": number, "covers": covers},
    )


def check_template(value: object, fields: frozenset[str], *, required: tuple[str, ...]) -> str:
    """Raise ValueError unless ``value`` is a template naming only ``fields``, each of
    ``required`` at least once (``{{`` and ``}}`` are literal braces)."""
    if not isinstance(value, str):
        raise ValueError(f"must be a string, got {type(value).__name__}")
    if len(value) > MAX_TEMPLATE_CHARACTERS:
        raise ValueError(f"must be at most {MAX_TEMPLATE_CHARACTERS} characters")
    check_text_value(value)
    try:
        parsed = list(string.Formatter().parse(value))
    except ValueError as exc:
        raise ValueError(
            f"is not a template ({exc}); write a literal brace as {{{{ or }}}}"
        ) from None
    named = set()
    for _, name, spec, conversion in parsed:
        if name is None:
            continue
        if name not in fields or spec or conversion:
            known = ", ".join("{" + field + "}" for field in sorted(fields))
            raise ValueError(
                f"names {{{name}}}, but only {known} may appear, plainly (a literal brace is "
                "{{ or }})"
            )
        named.add(name)
    missing = [name for name in required if name not in named]
    if missing:
        raise ValueError(f"must contain {{{missing[0]}}}")
    return value


Policy = Annotated[MessageWindow | TokenWindow | SummaryWindow, Field(discriminator="kind")]
"""Any window policy; serialised with its ``kind``."""
