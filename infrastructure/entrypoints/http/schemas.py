"""The JSON the API takes and gives, as pydantic models (they make the OpenAPI schema)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, JsonValue, Tag

from chatledger.domain import (
    MAX_POSITION,
    MemoryChange,
    Message,
    ModelCall,
    Summary,
    SummaryWindow,
    Usage,
)
from chatledger.infrastructure.entrypoints.tenancy import CONVERSATION_ID
from chatledger.projections import HistoryEntry, Omission, Policy, SummaryEntry
from chatledger.projections.renderings import AnthropicBlock, AnthropicMessage, OpenAIMessage

MAX_TURN_MESSAGES = 1000


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Turn(_In):
    """Several messages recorded as one atomic save."""

    messages: list[Message] = Field(min_length=1, max_length=MAX_TURN_MESSAGES)


class ProviderTurn(_In):
    """A turn in a provider's own shape, recorded as one atomic save.

    ``openai``: Chat Completions messages; ``responses``: Responses API input or output items;
    ``anthropic``: Messages API turns, with ``system`` beside them as in a request.
    """

    format: Literal["openai", "responses", "anthropic"]
    messages: list[dict[str, JsonValue]] = Field(min_length=1, max_length=MAX_TURN_MESSAGES)
    system: str | list[dict[str, JsonValue]] | None = None


def _body_kind(value: Any) -> str:
    if isinstance(value, dict) and "format" in value:
        return "provider"
    return "turn" if isinstance(value, dict) and "messages" in value else "message"


RecordBody = Annotated[
    Annotated[Message, Tag("message")]
    | Annotated[Turn, Tag("turn")]
    | Annotated[ProviderTurn, Tag("provider")],
    Discriminator(_body_kind),
]
"""One message object, ``{"messages": [...]}``, or a provider's turn with its ``format``."""


class Recorded(BaseModel):
    """The entries of what was recorded (or, on a retry, of what had been)."""

    conversation_id: str
    version: int = Field(description="The conversation's message count after the write")
    entries: list[HistoryEntry]


class HistoryPage(BaseModel):
    """A page of history, oldest first, with the cursors of the pages around it."""

    conversation_id: str
    length: int = Field(description="How many messages the conversation holds")
    entries: list[HistoryEntry]
    older: int | None = Field(description="Pass as before= for the page before; null at the start")
    newer: int | None = Field(description="Pass as after= for the page after; null at the end")


class ConversationSummary(BaseModel):
    """One of the tenant's conversations."""

    id: str
    created_at: datetime
    erased_at: datetime | None = None


class ConversationList(BaseModel):
    """A page of the tenant's conversations, in id order."""

    conversations: list[ConversationSummary]
    next: str | None = Field(description="Pass as after= for the next page; null at the end")


class MemoryOut(BaseModel):
    """The memory view in chatledger's own shape: entries with positions and token counts."""

    format: Literal["chatledger"] = "chatledger"
    conversation_id: str
    position: int
    tokens: int
    over_budget: bool = Field(
        description="The system prompt alone exceeds the budget: the view is that prompt alone"
    )
    policy: Policy
    entries: list[HistoryEntry]
    summary: SummaryEntry | None = Field(
        default=None,
        description="A summary window's summary, shown after the system prompt: it stands for "
        "every message up to its covers",
    )
    changes: int = Field(
        default=0,
        description="The newest memory change (clear or retraction) the view applied; 0: none",
    )


class OpenAIMemory(BaseModel):
    """The memory view as the ``messages`` of an OpenAI Chat Completions request."""

    messages: list[OpenAIMessage]
    omitted: list[Omission] = Field(description="What the rendering left out or converted, and why")


class ResponsesMemory(BaseModel):
    """The memory view as the ``input`` items of an OpenAI Responses request."""

    items: list[dict[str, JsonValue]]
    omitted: list[Omission] = Field(description="What the rendering left out or converted, and why")


class AnthropicMemory(BaseModel):
    """The memory view as the ``system`` and ``messages`` of an Anthropic Messages request."""

    system: str | list[AnthropicBlock] | None
    messages: list[AnthropicMessage]
    omitted: list[Omission] = Field(description="What the rendering left out or converted, and why")


class PromptTextMemory(BaseModel):
    """The memory view as one system prompt (``format=prompt-text``)."""

    format: Literal["prompt-text"] = "prompt-text"
    prompt: str


class SummaryIn(_In):
    """A summary of messages 1..covers."""

    covers: int = Field(ge=1, le=MAX_POSITION, description="The last position it stands for")
    text: str = Field(min_length=1)
    model: str | None = Field(default=None, max_length=200, description="Who wrote it")


class CompactIn(_In):
    """Summarize what a summary window leaves out, with the server's summarizer."""

    policy: SummaryWindow
    timeout: float | None = Field(
        default=None, gt=0, le=600, description="Seconds to wait for the summarizer"
    )


class Compacted(BaseModel):
    """What a compaction recorded: the new summary, or null when nothing was left out."""

    summary: Summary | None


class SummaryList(BaseModel):
    """A conversation's summaries, oldest first."""

    conversation_id: str
    summaries: list[Summary]


class RetractIn(_In):
    """The message to retract from memory."""

    position: int = Field(strict=True, ge=1, le=MAX_POSITION, description="The message's position")


NewId = Annotated[
    str,
    Field(
        pattern=CONVERSATION_ID,
        max_length=100,
        description="The branch's id (1-100 of A-Z a-z 0-9 . _ -); default: a new one",
    ),
]


class ForkIn(_In):
    """Where to fork: the branch shares the conversation's messages 1..at."""

    at: int = Field(
        strict=True, ge=0, le=MAX_POSITION, description="The last position the branch shares"
    )
    new_id: NewId | None = None


class EditIn(_In):
    """The message to record in place of the one at ``position``, on a new branch."""

    position: int = Field(
        strict=True, ge=1, le=MAX_POSITION, description="The position of the message to replace"
    )
    message: Message
    new_id: NewId | None = None


class RegenerateIn(_In):
    """The position of a reply to record another in place of, on a new branch."""

    position: int = Field(
        strict=True, ge=1, le=MAX_POSITION, description="The position of the reply to replace"
    )
    new_id: NewId | None = None


class BranchOut(BaseModel):
    """One conversation of a tree, by the tenant's own ids."""

    conversation_id: str
    parent: str | None = Field(description="The conversation it was forked from; null: the root")
    fork_point: int = Field(description="Its last position shared with the parent (0: the root)")
    length: int = Field(description="How many messages its history holds, the prefix included")
    created_at: datetime


class BranchList(BaseModel):
    """A conversation's tree: the root first, then each branch in creation order."""

    conversation_id: str
    branches: list[BranchOut]


class SiblingOut(BaseModel):
    """One alternative at a position: the branch that holds it."""

    number: int = Field(description='Its place among the alternatives: the "2" of "2/3"')
    conversation_id: str
    created_at: datetime
    current: bool = Field(description="Whether the asked-about conversation shows this one")


class SiblingList(BaseModel):
    """The alternatives at a position (edits, regenerations), in creation order."""

    conversation_id: str
    position: int
    siblings: list[SiblingOut]


class MemoryChangeList(BaseModel):
    """A conversation's clears and retractions, oldest first."""

    conversation_id: str
    changes: list[MemoryChange]


class Excluded(BaseModel):
    """A recorded message left out of the view, and why."""

    position: int
    reason: str


class Explanation(BaseModel):
    """The memory view at a position, and why each message not in it was left out."""

    view: MemoryOut
    excluded: list[Excluded]


class ModelCallIn(_In):
    """A model call made with a memory view: the policy and position it was computed with."""

    model: str = Field(min_length=1, max_length=200)
    policy: Policy
    position: int | None = Field(
        default=None, ge=0, le=MAX_POSITION, description="The view's position; default: the newest"
    )
    response_id: str | None = Field(default=None, max_length=200)
    usage: Usage | None = None


class ModelCallOut(ModelCall):
    """One recorded model call."""

    # A response promises its fields, not that no field is ever added to it.
    model_config = ConfigDict(extra="ignore")

    @classmethod
    def of(cls, call: ModelCall) -> ModelCallOut:
        """The call as the API shows it."""
        return cls.model_validate(call, from_attributes=True)


class ReplayOut(BaseModel):
    """A model call rebuilt from history and compared with its record."""

    call: ModelCallOut
    identical: bool
    differences: list[str]
    view: MemoryOut


class BreakOut(BaseModel):
    """A place where the stored history is not what was recorded."""

    position: int
    problem: str


class VerifiedOut(BaseModel):
    """A conversation's hash chain, recomputed from the stored rows."""

    conversation_id: str
    intact: bool
    length: int
    head: str
    breaks: list[BreakOut]


class EraseIn(_In):
    """Why the conversation is erased."""

    reason: str = Field(min_length=1, max_length=1000)


class ErasedOut(BaseModel):
    """When the conversation's text was destroyed."""

    conversation_id: str
    erased_at: datetime


class SessionOut(BaseModel):
    """The browser session: its tenant, the conversation it shows, those it may reach."""

    tenant: str
    conversation: str | None
    conversations: list[str]
    signed_in: bool
    csrf_token: str = Field(
        description="Send it back in X-CSRF-Token with every write the session cookie makes"
    )


class SignIn(_In):
    """Bind this browser session to the tenant of an API key."""

    api_key: str = Field(min_length=1, max_length=200)


class ShowConversation(_In):
    """Make the page show this conversation."""

    conversation: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


class Health(BaseModel):
    """The service is up and its store answers."""

    status: Literal["ok"] = "ok"
    backend: str
