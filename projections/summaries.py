"""Memory with summaries: the ``SummaryWindow`` view, where a summary stands for the oldest units.

Rules, on top of those in ``projections.memory`` (units, orphans, the system prompt):

1. A summary exists for a view at position P when it was recorded at a history length <= P
   (and, for a replay, is no newer than the summaries the recorded view chose from).
2. If every unit fits the budget beside the system prompt, the view is exactly
   ``TokenWindow``'s: no summary beats the messages themselves.
3. Otherwise summaries are tried newest first. One helps when it fits beside the system prompt
   and at least one unit after what it covers fits beside both. The first that helps is shown
   after the system prompt, followed by the newest units after what it covers, taken while the
   budget holds and stopping at the first that does not fit; none is skipped or split. A unit
   that begins at or before ``covers`` never appears: the summary stands for it whole.
4. With none that helps, the view is exactly ``TokenWindow``'s.
5. ``start_on_user`` drops leading units after the summary until one is a user message, unless
   the summary itself is shown as a user message.
6. Memory changes apply as they do to every view; after a clear, only a summary recorded after
   it and covering past it may be shown (``ChangesInForce.admits_summary``).

A summary is priced at the token count stored with it when the policy renders it the default
way, else by ``count`` on the rendered message.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import chain

from chatledger.domain import ChangesInForce, Message, Summary, SummaryWindow
from chatledger.projections.history import HistoryEntry
from chatledger.projections.memory import (
    Exclusion,
    MemoryExplanation,
    MemoryView,
    SummaryEntry,
    _Unit,
    _units_newest_first,
    _walk_forward,
)

Count = Callable[[Message], int]
"""What prices a message: a token counter's ``count``."""


def summary_memory_of(
    history: Sequence[HistoryEntry],
    summaries: Sequence[Summary],
    policy: SummaryWindow,
    request_overhead: int,
    count: Count | None = None,
    changes: ChangesInForce | None = None,
) -> MemoryView:
    """The view of a whole history (oldest first) with its summaries (oldest first)."""
    return explain_summary_memory(history, summaries, policy, request_overhead, count, changes).view


def build_summary_memory(
    newest_first: Iterable[HistoryEntry],
    system_prompt: HistoryEntry | None,
    summaries_newest_first: Iterable[Summary],
    policy: SummaryWindow,
    request_overhead: int,
    position: int,
    count: Count | None = None,
    changes: ChangesInForce | None = None,
) -> MemoryView:
    """The view from a history read newest first, pulling only what the window needs.

    ``summaries_newest_first`` are those that exist for the view (rule 1); the first is always
    pulled, so the view can say which was newest, the rest only while none helps.
    """
    changes = changes or ChangesInForce()
    units = _Pulled(_units_newest_first(newest_first, changes))
    choice = _choose(
        units, system_prompt, summaries_newest_first, policy, request_overhead, count, changes
    )
    return _view(system_prompt, choice, policy, request_overhead, position, changes.number)


def explain_summary_memory(
    history: Sequence[HistoryEntry],
    summaries: Sequence[Summary],
    policy: SummaryWindow,
    request_overhead: int,
    count: Count | None = None,
    changes: ChangesInForce | None = None,
) -> MemoryExplanation:
    """The view of a whole history with its summaries, and why each message left out was."""
    changes = changes or ChangesInForce()
    walk = _walk_forward(history, changes)
    position = history[-1].position if history else 0
    existing = [s for s in reversed(summaries) if s.position <= position]
    units = _Pulled(iter(reversed(walk.units)))
    choice = _choose(units, walk.system_prompt, existing, policy, request_overhead, count, changes)
    view = _view(walk.system_prompt, choice, policy, request_overhead, position, changes.number)
    excluded = dict(walk.excluded)
    for unit in choice.dropped:
        excluded.update(dict.fromkeys((e.position for e in unit), Exclusion.BEFORE_FIRST_USER))
    shown = set(view.positions)
    covers = choice.summary.covers if choice.summary is not None else 0
    for unit in walk.units:
        reason = Exclusion.COVERED_BY_SUMMARY if unit[0].position <= covers else Exclusion.EVICTED
        for entry in unit:
            if entry.position not in shown:
                excluded.setdefault(entry.position, reason)
    return MemoryExplanation(view=view, excluded=dict(sorted(excluded.items())))


def summary_cost(
    policy: SummaryWindow, summary: Summary, count: Count | None = None
) -> tuple[Message, int]:
    """The summary as the policy shows it, and its tokens (see the module's last rule)."""
    message = policy.summary_message(summary.number, summary.covers, summary.text)
    if policy.renders_by_default or count is None:
        return message, summary.tokens
    return message, count(message)


@dataclass(frozen=True)
class CoverageProblem:
    """Why a summary may not cover a position, and the highest position before it that might."""

    problem: str
    before: int


def coverage_problem(newest_first: Iterable[HistoryEntry], covers: int) -> CoverageProblem | None:
    """Why a summary may not cover 1..``covers`` of this history (read newest first), or None.

    It may not split a unit (a call at or before ``covers`` whose result comes after), nor end
    inside an open tool exchange (the newest call still waiting for results). Reads back from
    the newest message only until no result after ``covers`` is still unmatched.
    """
    results: dict[str | None, list[HistoryEntry]] = {}
    unmatched_after = 0  # results after covers that no call has taken yet
    newest_seen = False  # the newest message that is neither a result nor an instruction
    for entry in newest_first:
        message = entry.message
        if message.is_instruction:
            continue
        if message.role == "tool":
            results.setdefault(message.tool_call_id, []).append(entry)
            unmatched_after += entry.position > covers
            continue
        calls = message.tool_calls
        taken = [results[call.id].pop() for call in calls if results.get(call.id)]
        if not newest_seen:
            newest_seen = True
            if entry.position <= covers and len(taken) < len(calls):
                return CoverageProblem(
                    f"ends inside the open tool exchange at position {entry.position}: its "
                    "calls still wait for results",
                    entry.position - 1,
                )
        if entry.position > covers:
            unmatched_after -= len(taken)
            continue
        late = [answer.position for answer in taken if answer.position > covers]
        if late:
            return CoverageProblem(
                f"splits the tool exchange at position {entry.position}: its result at "
                f"position {late[0]} comes after {covers}",
                entry.position - 1,
            )
        if not unmatched_after:
            return None
    return None


def summarizable(
    entries: Sequence[HistoryEntry], changes: ChangesInForce | None = None
) -> tuple[HistoryEntry, ...]:
    """The messages of the whole units among ``entries``, in position order.

    ``entries`` is the history between two positions a summary may cover (oldest first): what
    a summary of it stands for. Instructions, orphans, unanswered calls and what ``changes``
    take out of memory are left out, as every view leaves them out.
    """
    walk = _walk_forward(entries, changes)
    return tuple(sorted((e for unit in walk.units for e in unit), key=lambda e: e.position))


class _Pulled:
    """Units pulled from a newest-first iterator, kept so that several windows can walk them."""

    def __init__(self, units: Iterator[_Unit]) -> None:
        self._units = units
        self.items: list[_Unit] = []

    def get(self, index: int) -> _Unit | None:
        while len(self.items) <= index:
            unit = next(self._units, None)
            if unit is None:
                return None
            self.items.append(unit)
        return self.items[index]


@dataclass(frozen=True)
class _Choice:
    summary: SummaryEntry | None
    kept: list[_Unit]
    """Oldest first."""
    dropped: list[_Unit]
    """Dropped to start on a user message."""
    newest: int
    """The number of the newest summary there was to choose from (0: none)."""


def _choose(
    units: _Pulled,
    system_prompt: HistoryEntry | None,
    summaries_newest_first: Iterable[Summary],
    policy: SummaryWindow,
    request_overhead: int,
    count: Count | None,
    changes: ChangesInForce,
) -> _Choice:
    summaries = iter(summaries_newest_first)
    first = next(summaries, None)
    newest = first.number if first is not None else 0
    room = policy.max_tokens - request_overhead
    if system_prompt is not None:
        room -= system_prompt.tokens
    if room < 0:
        return _Choice(None, [], [], newest)  # the system prompt alone, as TokenWindow shows it
    fitting = 0
    left = room
    while (unit := units.get(fitting)) is not None:
        left -= _tokens(unit)
        if left < 0:
            break
        fitting += 1
    if unit is not None and first is not None:
        for summary in chain((first,), summaries):
            if changes.cleared and summary.number <= changes.summaries:
                break  # this one and every older one stand for cleared messages
            if not changes.admits_summary(summary.number, summary.covers):
                continue
            chosen = _with_summary(units, summary, room, policy, count)
            if chosen is not None:
                return _Choice(*chosen, newest)
    kept = units.items[:fitting][::-1]
    return _Choice(None, *_start_on_user(kept, policy.start_on_user), newest)


def _with_summary(
    units: _Pulled, summary: Summary, room: int, policy: SummaryWindow, count: Count | None
) -> tuple[SummaryEntry, list[_Unit], list[_Unit]] | None:
    """The summary and the units after it, if it helps (rule 3); else None."""
    if summary.erased:
        return None
    message, cost = summary_cost(policy, summary, count)
    room -= cost
    if room < 0:
        return None
    recent: list[_Unit] = []
    # Never reads past where the TokenWindow stopped: the room here is smaller.
    while (unit := units.get(len(recent))) is not None and unit[0].position > summary.covers:
        room -= _tokens(unit)
        if room < 0:
            break
        recent.append(unit)
    if not recent:
        return None
    recent.reverse()
    entry = SummaryEntry(number=summary.number, covers=summary.covers, message=message, tokens=cost)
    starts_on_user = policy.start_on_user and policy.summary_role != "user"
    return (entry, *_start_on_user(recent, starts_on_user))


def _start_on_user(kept: list[_Unit], start_on_user: bool) -> tuple[list[_Unit], list[_Unit]]:
    dropped: list[_Unit] = []
    if start_on_user:
        # A user message is always a unit alone, so the first message says it all.
        while kept and kept[0][0].message.role != "user":
            dropped.append(kept.pop(0))
    return kept, dropped


def _tokens(unit: _Unit) -> int:
    return sum(entry.tokens for entry in unit)


def _view(
    system_prompt: HistoryEntry | None,
    choice: _Choice,
    policy: SummaryWindow,
    request_overhead: int,
    position: int,
    changes: int = 0,
) -> MemoryView:
    shown = tuple(entry for unit in choice.kept for entry in unit)
    entries = shown if system_prompt is None else (system_prompt, *shown)
    tokens = sum(entry.tokens for entry in entries)
    if choice.summary is not None:
        tokens += choice.summary.tokens
    return MemoryView(
        entries=entries,
        tokens=request_overhead + tokens if entries or choice.summary else 0,
        policy=policy,
        position=position,
        summary=choice.summary,
        summaries=choice.newest,
        changes=changes,
    )
