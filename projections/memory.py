"""The memory view: what the model is shown on the next call, derived from the history.

Rules (the contract every function here implements):

1. The current system prompt (the last instruction recorded: a ``system`` or ``developer``
   message) comes first when there is one; no other instruction appears, and it is never
   evicted.
2. Other messages form units. An assistant message with tool calls opens a tool exchange
   waiting for each call id; a tool message joins the most recent exchange still waiting for its
   ``tool_call_id`` (ids may be reused across turns). A tool message with no such exchange is an
   orphan and never appears. An exchange with any call unanswered never appears. Every other
   message is a unit alone. Units are ordered by their first message; an exchange lists its call
   then its results in recorded order.
3. From the newest unit backwards, units are taken while the budget holds, stopping at the first
   that does not fit; none is skipped or split. If the system prompt alone exceeds the budget, the
   view is the system prompt alone, and ``over_budget`` says so.
4. With ``start_on_user``, leading units are dropped until the first is a user message.
5. Memory changes in force (``chatledger.domain.memory_changes``) apply before the window: no
   message at or before the newest clear appears but the system prompt in force, and a unit
   holding a retracted position never appears.

A ``SummaryWindow`` adds a summary standing for the oldest units (``projections.summaries``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Literal, overload

from pydantic import BaseModel, ConfigDict, Field

from chatledger.domain import AttachmentResolver, ChangesInForce, Format, Message
from chatledger.domain.policies import MessageWindow, Policy
from chatledger.projections import prompt_text, renderings
from chatledger.projections.history import HistoryEntry
from chatledger.projections.renderings import AnthropicParams, Rendering

if TYPE_CHECKING:
    # Type-level only (see the renderings package): no SDK is imported at run time.
    from openai.types.chat import ChatCompletionMessageParam
    from openai.types.responses import ResponseInputItemParam


class Exclusion(StrEnum):
    """Why a recorded message is not in a memory view."""

    EVICTED = "evicted by the window"
    ORPHANED_TOOL_RESULT = "orphaned tool result"
    UNANSWERED_TOOL_CALL = "unanswered tool call"
    REPLACED_SYSTEM_PROMPT = "replaced system prompt"
    BEFORE_FIRST_USER = "dropped to start on a user message"
    COVERED_BY_SUMMARY = "covered by summary"
    """The view's summary stands for it (``MemoryExplanation.describe`` names the summary)."""
    CLEARED = "cleared from memory"
    """Recorded before memory was cleared (``ledger.clear``)."""
    RETRACTED = "retracted"
    """It, or a message of its tool exchange, was retracted (``ledger.retract``)."""


class SummaryEntry(BaseModel):
    """The summary a memory view shows, right after the system prompt, as one message."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    number: int = Field(ge=1)
    covers: int = Field(ge=1)
    """The summary stands for messages 1..covers: none of them is in the view."""
    message: Message
    """The summary as the view's policy renders it."""
    tokens: int = Field(ge=0)


class MemoryView(BaseModel):
    """The messages to send to the model, in order, and their token total."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    entries: tuple[HistoryEntry, ...]
    tokens: int = Field(ge=0)
    """Tokens of the whole request: the counter's request overhead plus every message's count.
    Zero when the view is empty."""
    policy: Policy
    position: int = Field(ge=0)
    """The history position the view was computed at (0 for an empty conversation)."""
    summary: SummaryEntry | None = None
    """The summary shown after the system prompt, standing for the units before ``entries``."""
    summaries: int = Field(default=0, ge=0)
    """The number of the newest summary there was to choose from (0: none), so a replay
    chooses among the same ones."""
    changes: int = Field(default=0, ge=0)
    """The number of the newest memory change (clear or retraction) the view applied (0:
    none), so a replay applies the same ones."""

    @property
    def messages(self) -> tuple[Message, ...]:
        """The messages to send, in order: the system prompt, the summary, then the rest."""
        messages = tuple(entry.message for entry in self.entries)
        if self.summary is None:
            return messages
        # Only the system prompt can be an instruction among a view's entries.
        split = 1 if messages and messages[0].is_instruction else 0
        return (*messages[:split], self.summary.message, *messages[split:])

    @property
    def positions(self) -> tuple[int, ...]:
        """The history positions of the messages in the view."""
        return tuple(entry.position for entry in self.entries)

    @property
    def message_positions(self) -> tuple[int, ...]:
        """The history position of each of ``messages``, in order; 0 for the summary's, which
        stands for many."""
        positions = self.positions
        if self.summary is None:
            return positions
        split = 1 if self.entries and self.entries[0].message.is_instruction else 0
        return (*positions[:split], 0, *positions[split:])

    @property
    def over_budget(self) -> bool:
        """Whether the view exceeds its policy's budget: only when the system prompt alone does.

        Derived from the view, never stored: tokens past ``max_tokens``, or more messages than
        ``max_messages``.
        """
        if isinstance(self.policy, MessageWindow):
            return len(self.entries) > self.policy.max_messages
        return self.tokens > self.policy.max_tokens

    def to_openai(
        self, *, resolve: AttachmentResolver | None = None
    ) -> list[ChatCompletionMessageParam]:
        """The view as an OpenAI Chat Completions ``messages`` list (the SDK's type).

        ``resolve`` reads the bytes of parts stored apart (``ledger.attachment_resolver``), for
        a view read without them inlined; without it, a part that holds an attachment raises
        AttachmentUnavailable naming its position.
        """
        return self.rendering("openai", resolve=resolve).payload

    def to_responses(
        self, *, resolve: AttachmentResolver | None = None
    ) -> list[ResponseInputItemParam]:
        """The view as OpenAI Responses ``input`` items (the SDK's type)."""
        return self.rendering("responses", resolve=resolve).payload

    def to_anthropic(self, *, resolve: AttachmentResolver | None = None) -> AnthropicParams:
        """The view as Anthropic Messages ``system`` and ``messages`` (the SDK's types)."""
        return self.rendering("anthropic", resolve=resolve).payload

    @overload
    def rendering(
        self, provider: Literal["openai"], *, resolve: AttachmentResolver | None = None
    ) -> Rendering[list[ChatCompletionMessageParam]]: ...

    @overload
    def rendering(
        self, provider: Literal["responses"], *, resolve: AttachmentResolver | None = None
    ) -> Rendering[list[ResponseInputItemParam]]: ...

    @overload
    def rendering(
        self, provider: Literal["anthropic"], *, resolve: AttachmentResolver | None = None
    ) -> Rendering[AnthropicParams]: ...

    def rendering(
        self, provider: Format, *, resolve: AttachmentResolver | None = None
    ) -> Rendering[Any]:
        """The view rendered for ``provider``, with what the rendering left out and why.

        Omissions name the history position of their message. The payload is what
        ``to_openai``, ``to_responses`` or ``to_anthropic`` returns, typed as the SDK's.
        """
        messages, positions = self.messages, self.message_positions
        if provider == "openai":
            return renderings.render_openai(messages, positions=positions, resolve=resolve)
        if provider == "responses":
            return renderings.render_responses(messages, positions=positions, resolve=resolve)
        return renderings.render_anthropic(messages, positions=positions, resolve=resolve)

    def as_prompt_text(self, template: str = prompt_text.DEFAULT_PROMPT_TEMPLATE) -> str:
        """The view as one system prompt: ``template`` with ``{instructions}``, the current
        system prompt's text, and ``{memory}``, every other message as role-prefixed lines.

        Raises InvalidInput naming ``template`` when it lacks either placeholder.
        """
        system = self.entries[0].message if self.entries else None
        instructions = system if system is not None and system.is_instruction else None
        others = self.messages[1:] if instructions is not None else self.messages
        return prompt_text.render(template, instructions, others)


class MemoryExplanation(BaseModel):
    """A memory view beside the reason each left-out message was left out."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    view: MemoryView
    excluded: dict[int, Exclusion]
    """Position of every recorded message not in the view -> why."""

    def describe(self, position: int) -> str:
        """Why the message at ``position`` is left out, in words ("covered by summary #2")."""
        reason = self.excluded[position]
        if reason is Exclusion.COVERED_BY_SUMMARY and self.view.summary is not None:
            return f"{reason.value} #{self.view.summary.number}"
        return reason.value


# Messages that enter or leave a view together: one message, or a call and its results.
_Unit = tuple[HistoryEntry, ...]


def memory_of(
    history: Sequence[HistoryEntry],
    policy: Policy,
    request_overhead: int,
    changes: ChangesInForce | None = None,
) -> MemoryView:
    """The memory view of a whole history (oldest first): the reference projection."""
    return explain_memory(history, policy, request_overhead, changes).view


def build_memory(
    newest_first: Iterable[HistoryEntry],
    system_prompt: HistoryEntry | None,
    policy: Policy,
    request_overhead: int,
    position: int,
    changes: ChangesInForce | None = None,
) -> MemoryView:
    """The memory view from a history read newest first, pulling only what the window needs.

    ``system_prompt`` is the prompt in force at ``position``; system messages in the stream are
    skipped. Reading stops at the first message of the first unit that does not fit, or at
    the newest clear among ``changes``.
    """
    changes = changes or ChangesInForce()
    units = _units_newest_first(newest_first, changes)
    kept, _ = _window(units, system_prompt, policy, request_overhead)
    return _view(system_prompt, kept, policy, request_overhead, position, changes.number)


def explain_memory(
    history: Sequence[HistoryEntry],
    policy: Policy,
    request_overhead: int,
    changes: ChangesInForce | None = None,
) -> MemoryExplanation:
    """The memory view of a whole history, and why each message left out was left out."""
    changes = changes or ChangesInForce()
    walk = _walk_forward(history, changes)
    kept, dropped = _window(reversed(walk.units), walk.system_prompt, policy, request_overhead)
    position = history[-1].position if history else 0
    view = _view(walk.system_prompt, kept, policy, request_overhead, position, changes.number)
    excluded = dict(walk.excluded)
    for unit in dropped:
        excluded.update(dict.fromkeys(_positions(unit), Exclusion.BEFORE_FIRST_USER))
    shown = set(view.positions)
    for unit in walk.units:
        for entry in unit:
            if entry.position not in shown:
                excluded.setdefault(entry.position, Exclusion.EVICTED)
    return MemoryExplanation(view=view, excluded=dict(sorted(excluded.items())))


@dataclass
class _Gathering:
    """A unit the forward walk is still gathering, and the call ids it still waits for."""

    entries: list[HistoryEntry]
    unanswered: set[str | None] = field(default_factory=set)


@dataclass
class _Walk:
    system_prompt: HistoryEntry | None
    units: list[_Unit]
    """Complete units, oldest first."""
    excluded: dict[int, Exclusion]
    """Messages no window can show: replaced prompts, orphans, unanswered exchanges."""


def _walk_forward(history: Iterable[HistoryEntry], changes: ChangesInForce | None = None) -> _Walk:
    cleared = changes.cleared if changes is not None else 0
    retracted = changes.retracted if changes is not None else frozenset()
    system_prompt: HistoryEntry | None = None
    excluded: dict[int, Exclusion] = {}
    gathered: list[_Gathering] = []
    # Per call id, the exchanges still waiting for it, most recent last: ids are reused.
    waiting: dict[str | None, list[_Gathering]] = {}
    for entry in history:
        message = entry.message
        if message.is_instruction:
            if system_prompt is not None:
                excluded[system_prompt.position] = Exclusion.REPLACED_SYSTEM_PROMPT
            system_prompt = entry
        elif entry.position <= cleared:
            excluded[entry.position] = Exclusion.CLEARED
        elif message.role == "tool":
            exchanges = waiting.get(message.tool_call_id)
            if exchanges:
                exchange = exchanges.pop()
                exchange.entries.append(entry)
                exchange.unanswered.discard(message.tool_call_id)
            else:
                excluded[entry.position] = Exclusion.ORPHANED_TOOL_RESULT
        else:
            unit = _Gathering([entry], {call.id for call in message.tool_calls})
            gathered.append(unit)
            for call in message.tool_calls:
                waiting.setdefault(call.id, []).append(unit)
    units: list[_Unit] = []
    for unit in gathered:
        positions = _positions(unit.entries)
        if retracted.intersection(positions):
            excluded.update(dict.fromkeys(positions, Exclusion.RETRACTED))
        elif unit.unanswered:
            excluded.update(dict.fromkeys(positions, Exclusion.UNANSWERED_TOOL_CALL))
        else:
            units.append(tuple(unit.entries))
    # A retracted orphan says so: the history marks it retracted, whatever else kept it out.
    excluded.update(
        (position, Exclusion.RETRACTED)
        for position in retracted
        if excluded.get(position) is Exclusion.ORPHANED_TOOL_RESULT
    )
    return _Walk(system_prompt, units, excluded)


def _units_newest_first(
    newest_first: Iterable[HistoryEntry], changes: ChangesInForce | None = None
) -> Iterator[_Unit]:
    """Complete units, newest first, each yielded as soon as the walk reaches its first message.

    Matching a result to the most recent exchange waiting for its id is bracket matching per
    id, and greedy bracket matching pairs the same way read backwards: an exchange takes, for
    each of its ids, the nearest later result not yet taken. The walk ends at the newest
    clear among ``changes``, and a unit holding a retracted position is never yielded.
    """
    cleared = changes.cleared if changes is not None else 0
    retracted = changes.retracted if changes is not None else frozenset()
    # Per call id, results not yet taken, nearest to the walk (so oldest) last.
    results: dict[str | None, list[HistoryEntry]] = {}
    for entry in newest_first:
        message = entry.message
        if entry.position <= cleared:
            return  # nothing from here back is in memory (the system prompt comes apart)
        if message.is_instruction:
            continue
        if message.role == "tool":
            results.setdefault(message.tool_call_id, []).append(entry)
            continue
        # Results are taken even when another call goes unanswered: that exchange claimed them.
        answers = [results[call.id].pop() for call in message.tool_calls if results.get(call.id)]
        if len(answers) == len(message.tool_calls):
            unit = (entry, *sorted(answers, key=lambda answer: answer.position))
            if not retracted or retracted.isdisjoint(e.position for e in unit):
                yield unit


def _window(
    units_newest_first: Iterable[_Unit],
    system_prompt: HistoryEntry | None,
    policy: Policy,
    request_overhead: int,
) -> tuple[list[_Unit], list[_Unit]]:
    """The units kept (oldest first) and those dropped to start on a user message."""
    if isinstance(policy, MessageWindow):
        room = policy.max_messages
    else:
        room = policy.max_tokens - request_overhead
    if system_prompt is not None:
        room -= _cost(policy, (system_prompt,))
    kept: list[_Unit] = []
    # Checked before the first pull, so a prompt over budget reads nothing more.
    if room >= 0:
        for unit in units_newest_first:
            room -= _cost(policy, unit)
            if room < 0:
                break
            kept.append(unit)
    kept.reverse()
    dropped: list[_Unit] = []
    if policy.start_on_user:
        # A user message is always a unit alone, so the first message says it all.
        while kept and kept[0][0].message.role != "user":
            dropped.append(kept.pop(0))
    return kept, dropped


def _cost(policy: Policy, entries: Iterable[HistoryEntry]) -> int:
    if isinstance(policy, MessageWindow):
        return sum(1 for _ in entries)
    return sum(entry.tokens for entry in entries)


def _view(
    system_prompt: HistoryEntry | None,
    units: Iterable[_Unit],
    policy: Policy,
    request_overhead: int,
    position: int,
    changes: int = 0,
) -> MemoryView:
    shown = tuple(entry for unit in units for entry in unit)
    entries = shown if system_prompt is None else (system_prompt, *shown)
    tokens = request_overhead + sum(entry.tokens for entry in entries) if entries else 0
    return MemoryView(
        entries=entries, tokens=tokens, policy=policy, position=position, changes=changes
    )


def _positions(entries: Iterable[HistoryEntry]) -> list[int]:
    return [entry.position for entry in entries]
