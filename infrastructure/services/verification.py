"""Tamper evidence: recompute each conversation's hash chain from the stored rows."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from eventsourcing.persistence import StoredEvent

from chatledger.domain import Conversation, InvalidInput, UnknownConversation, utc_now
from chatledger.domain.conversation import (
    PLAIN,
    STARTED_VERSION,
    genesis,
    memory_genesis,
    memory_stream_id,
    summary_genesis,
    summary_stream_id,
)
from chatledger.infrastructure.storage.application import LedgerApplication
from chatledger.infrastructure.storage.keys import iter_all
from chatledger.infrastructure.storage.topics import topics_naming

PAGE = 1000
_ERASED_TOPICS = topics_naming(Conversation.Erased)
_FORKED_TOPICS = topics_naming(Conversation.Forked)
CHECKPOINT_FORMAT = "chatledger-checkpoint/1"


@dataclass(frozen=True)
class Break:
    """One place where the stored history is not what was recorded."""

    conversation_id: str
    position: int
    problem: str

    def __str__(self) -> str:
        return f"{self.conversation_id} position {self.position}: {self.problem}"


@dataclass(frozen=True)
class Verified:
    """One conversation's verification: how far its chain reaches and every break found."""

    conversation_id: str
    length: int
    head: str
    breaks: tuple[Break, ...]
    summaries: int = 0
    """How many summaries the conversation's summary stream holds (each checked too)."""
    summary_head: str = ""
    """The newest summary's link ("" without summaries), which checkpoints keep too."""
    changes: int = 0
    """How many memory changes (clears, retractions) the conversation holds (each checked)."""
    changes_head: str = ""
    """The newest memory change's link ("" without changes), which checkpoints keep too."""

    @property
    def intact(self) -> bool:
        """True when nothing was altered, inserted, deleted or reordered."""
        return not self.breaks


def verify(store: LedgerApplication, conversation_id: str, *, upto: int | None = None) -> Verified:
    """Recompute one conversation's chain, row by row, its summaries' and its memory changes';
    report every break. A branch's shared prefix is verified too, in its ancestors' rows, to
    the link its ``Forked`` event names. ``upto`` stops at that position (a prefix's end)."""
    summaries = _side_rows(store, summary_stream_id(conversation_id))
    changes = _side_rows(store, memory_stream_id(conversation_id))
    anchored = {e.covers for _, e in summaries if isinstance(e, Conversation.SummaryRecorded)}
    anchored |= {e.position for _, e in changes if isinstance(e, _CHANGES)}
    links: dict[int, str] = {}  # the chain's link at each position a summary or change names
    breaks: list[Break] = []
    previous = genesis(conversation_id)
    expected_version = STARTED_VERSION
    seen_any = False
    digests = PLAIN
    ended = False  # the Erased event, the stream's last, was read
    for stored in _rows(store, conversation_id):
        seen_any = True
        version = stored.originator_version
        if upto is not None and version > upto + STARTED_VERSION:
            break
        if ended:
            breaks.append(
                Break(conversation_id, version - STARTED_VERSION, "inserted: a row after erasure")
            )
            continue
        if version != expected_version:
            breaks.append(
                Break(
                    conversation_id,
                    expected_version - STARTED_VERSION,
                    f"missing: the next stored row is position {version - STARTED_VERSION}",
                )
            )
            expected_version = version
        expected_version += 1
        if version == STARTED_VERSION:
            digests = _scheme(store, stored)
            fork = _fork(store, stored)
            if fork is not None:
                previous = fork.link
                expected_version = fork.fork_point + STARTED_VERSION + 1
                breaks += _check_fork(store, conversation_id, fork, anchored, links)
            continue
        position = version - STARTED_VERSION
        if stored.topic in _ERASED_TOPICS:
            # The erasure's own link is checked; the head reported stays the last message's,
            # so checkpoints taken before and after the erasure agree.
            ended = True
            problem = _check_erasure(store, stored, previous)
            if problem:
                breaks.append(Break(conversation_id, position, problem))
            continue
        problem, link = _check_row(store, stored, previous, digests)
        if problem:
            breaks.append(Break(conversation_id, position, problem))
        previous = link
        if position in anchored:
            links[position] = link
    if not seen_any:
        raise UnknownConversation(conversation_id)
    length = expected_version - 1 - STARTED_VERSION - (1 if ended else 0)
    if upto is not None:
        return Verified(conversation_id, length, previous, tuple(breaks))
    breaks += _check_summaries(store, conversation_id, summaries, links)
    breaks += _check_changes(conversation_id, changes, links)
    return Verified(
        conversation_id,
        length,
        previous,
        tuple(breaks),
        len(summaries),
        _stored_link(summaries[-1][0], "") if summaries else "",
        len(changes),
        _stored_link(changes[-1][0], "") if changes else "",
    )


_CHANGES = (Conversation.MemoryCleared, Conversation.Retracted)


def _side_rows(store: LedgerApplication, stream: str) -> list[tuple[StoredEvent, Any]]:
    """Each stored row of a side stream, beside its event or, if it cannot be read, the error."""
    found: list[tuple[StoredEvent, Any]] = []
    for stored in _rows(store, stream):
        try:
            found.append((stored, store.mapper.to_domain_event(stored)))
        except Exception as exc:  # an unreadable row is a finding, not a crash
            found.append((stored, exc))
    return found


def _check_summaries(
    store: LedgerApplication,
    conversation_id: str,
    summaries: list[tuple[StoredEvent, Any]],
    links: dict[int, str],
) -> list[Break]:
    """Every break in the summaries' own chain, their anchors and their digests."""
    breaks: list[Break] = []
    previous = summary_genesis(conversation_id)
    expected = 1
    for stored, event in summaries:
        number = stored.originator_version
        if number != expected:
            breaks.append(
                Break(conversation_id, 0, f"summary #{expected} missing: the next is #{number}")
            )
        expected = number + 1
        if not isinstance(event, Conversation.SummaryRecorded):
            what = (
                f"cannot be read ({type(event).__name__}: {event})"
                if isinstance(event, Exception)
                else f"is an unexpected {type(event).__name__} event"
            )
            breaks.append(Break(conversation_id, 0, f"summary #{number} altered: the row {what}"))
            previous = _stored_link(stored, previous)
            continue
        problem = ""
        if event.chain != event.link(previous) or event.conversation_id != conversation_id:
            problem = "altered: its hash does not follow from the previous summary's"
        elif links.get(event.covers) != event.anchor:
            problem = f"moved: it is not anchored to the chain at position {event.covers}"
        elif not event.erased and event.digest != store.sealer.digest(
            conversation_id, event.text.encode("utf-8"), create=False
        ):
            problem = "altered: its text does not match its digest"
        if problem:
            breaks.append(Break(conversation_id, event.covers, f"summary #{number} {problem}"))
        previous = event.chain
    return breaks


def _fork(store: LedgerApplication, stored: StoredEvent) -> Conversation.Forked | None:
    """The ``Forked`` event a conversation's first row holds, if it began as a branch."""
    if stored.topic not in _FORKED_TOPICS:
        return None
    try:
        event = store.mapper.to_domain_event(stored)
    except Exception:  # reported by the rows after it, which then follow no known link
        return None
    return event if isinstance(event, Conversation.Forked) else None


def _check_fork(
    store: LedgerApplication,
    conversation_id: str,
    fork: Conversation.Forked,
    anchored: set[int],
    links: dict[int, str],
) -> list[Break]:
    """Breaks in a branch's fork link and in the prefix it shares, found in the ancestors."""
    breaks: list[Break] = []
    if fork.link != fork.expected_link():
        breaks.append(
            Break(conversation_id, fork.fork_point, "altered: its fork link does not follow")
        )
    if fork.fork_point == 0:
        return breaks
    try:
        prefix = verify(store, fork.parent, upto=fork.fork_point)
    except UnknownConversation:
        problem = f"missing: its parent {fork.parent!r} holds no rows"
        return [*breaks, Break(conversation_id, fork.fork_point, problem)]
    breaks += prefix.breaks
    if prefix.length < fork.fork_point:
        problem = f"missing: its parent {fork.parent!r} ends at {prefix.length}"
        breaks.append(Break(conversation_id, fork.fork_point, problem))
    elif link_at(store, fork.parent, fork.fork_point) != fork.parent_link:
        problem = f"altered: the prefix shared with {fork.parent!r} is not the one it forked"
        breaks.append(Break(conversation_id, fork.fork_point, problem))
    for position in anchored:
        if 0 < position <= fork.fork_point:
            found = message_link(store, fork.parent, position)
            if found is not None:
                links[position] = found
    return breaks


def message_link(store: LedgerApplication, conversation_id: str, position: int) -> str | None:
    """The chain link of the message event at ``position``, in whichever conversation of the
    branch's lineage holds it (what a summary or memory change on a branch is anchored to)."""
    first = store.recorder.select_events(conversation_id, lte=STARTED_VERSION, limit=1)
    fork = _fork(store, first[0]) if first else None
    if fork is not None and position <= fork.fork_point:
        return message_link(store, fork.parent, position)
    version = position + STARTED_VERSION
    rows = store.recorder.select_events(conversation_id, gt=version - 1, lte=version)
    return _stored_link(rows[0], "") if rows else None


def _check_changes(
    conversation_id: str, changes: list[tuple[StoredEvent, Any]], links: dict[int, str]
) -> list[Break]:
    """Every break in the memory changes' own chain and their anchors."""
    breaks: list[Break] = []
    previous = memory_genesis(conversation_id)
    expected = 1
    for stored, event in changes:
        number = stored.originator_version
        if number != expected:
            problem = f"memory change #{expected} missing: the next is #{number}"
            breaks.append(Break(conversation_id, 0, problem))
        expected = number + 1
        if not isinstance(event, _CHANGES):
            what = (
                f"cannot be read ({type(event).__name__}: {event})"
                if isinstance(event, Exception)
                else f"is an unexpected {type(event).__name__} event"
            )
            breaks.append(
                Break(conversation_id, 0, f"memory change #{number} altered: the row {what}")
            )
            previous = _stored_link(stored, previous)
            continue
        problem = ""
        if event.chain != event.link(previous) or event.conversation_id != conversation_id:
            problem = "altered: its hash does not follow from the previous change's"
        elif links.get(event.position) != event.anchor:
            problem = f"moved: it is not anchored to the chain at position {event.position}"
        if problem:
            breaks.append(
                Break(conversation_id, event.position, f"memory change #{number} {problem}")
            )
        previous = event.chain
    return breaks


def verify_all(
    store: LedgerApplication, progress: Callable[[Verified], None] | None = None
) -> list[Verified]:
    """Verify every conversation in the directory; ``progress`` is called after each."""
    results = []
    for record in iter_all(store.keys):
        result = verify(store, record.conversation_id)
        results.append(result)
        if progress is not None:
            progress(result)
    return results


def checkpoint(store: LedgerApplication) -> dict[str, Any]:
    """The head of every conversation's chain (and its summaries'), to keep outside the database."""
    heads: dict[str, dict[str, Any]] = {}
    for result in verify_all(store):
        head: dict[str, Any] = {"length": result.length, "head": result.head}
        if result.summaries:
            head |= {"summaries": result.summaries, "summary_head": result.summary_head}
        if result.changes:
            head |= {"changes": result.changes, "changes_head": result.changes_head}
        heads[result.conversation_id] = head
    return {"format": CHECKPOINT_FORMAT, "taken_at": utc_now().isoformat(), "heads": heads}


def compare_checkpoint(store: LedgerApplication, saved: dict[str, Any]) -> list[Break]:
    """Breaks between a saved checkpoint and the chains as stored now.

    Someone with write access can rewrite rows and their chain together; they cannot also
    change a checkpoint kept elsewhere.
    """
    breaks = []
    for conversation_id, length, expected in _checkpointed_heads(saved):
        try:
            actual = link_at(store, conversation_id, length)
        except UnknownConversation:
            actual = None
        if actual is None:
            breaks.append(Break(conversation_id, length, "missing: checkpointed position is gone"))
        elif actual != expected:
            breaks.append(Break(conversation_id, length, "chain differs from the checkpoint"))
    breaks += _compare_side(store, saved, "summaries", "summary_head", summary_stream_id, "summary")
    breaks += _compare_side(
        store, saved, "changes", "changes_head", memory_stream_id, "memory change"
    )
    return breaks


def _compare_side(
    store: LedgerApplication,
    saved: dict[str, Any],
    count_key: str,
    head_key: str,
    stream_of: Callable[[str], str],
    noun: str,
) -> list[Break]:
    """Breaks between the side-stream heads a checkpoint kept (summaries' or memory changes')
    and the rows stored now.

    Checkpoints taken before a side stream existed keep none of it, and are compared on the
    rest alone.
    """
    breaks = []
    for conversation_id, head in saved["heads"].items():
        count, expected = head.get(count_key), head.get(head_key)
        if not isinstance(count, int) or not isinstance(expected, str) or count < 1:
            continue
        rows = store.recorder.select_events(
            stream_of(str(conversation_id)), gt=count - 1, lte=count
        )
        if not rows:
            problem = f"{noun} #{count} missing: the checkpointed {noun} is gone"
        elif _stored_link(rows[0], "") != expected:
            problem = f"{noun} #{count}: its chain differs from the checkpoint"
        else:
            continue
        breaks.append(Break(str(conversation_id), 0, problem))
    return breaks


def _checkpointed_heads(saved: Any) -> Iterator[tuple[str, int, str]]:
    """(conversation id, length, head) of each head a checkpoint holds; InvalidInput if none."""
    if not isinstance(saved, dict) or saved.get("format") != CHECKPOINT_FORMAT:
        raise InvalidInput(
            "checkpoint",
            f"is not a chatledger checkpoint (format {CHECKPOINT_FORMAT}): pass the JSON that "
            "`chatledger checkpoint` printed",
        )
    heads = saved.get("heads")
    if not isinstance(heads, dict):
        raise InvalidInput("checkpoint.heads", "must map each conversation id to its head")
    for conversation_id, head in heads.items():
        try:
            yield str(conversation_id), int(head["length"]), str(head["head"])
        except (TypeError, KeyError, ValueError):
            raise InvalidInput(
                f"checkpoint.heads.{conversation_id}",
                "must be an object with a length (an integer) and a head",
            ) from None


def link_at(store: LedgerApplication, conversation_id: str, position: int) -> str | None:
    """The chain link stored at ``position`` (genesis at 0); None past the end. A branch's
    link at its fork point is its fork link; before it, its parent's there."""
    first = store.recorder.select_events(conversation_id, lte=STARTED_VERSION, limit=1)
    fork = _fork(store, first[0]) if first else None
    if fork is not None and position <= fork.fork_point:
        if position == fork.fork_point:
            return fork.link
        return link_at(store, fork.parent, position)
    if position == 0:
        return genesis(conversation_id)
    version = position + STARTED_VERSION
    rows = store.recorder.select_events(conversation_id, gt=version - 1, lte=version)
    if not rows:
        return None
    return _stored_link(rows[0], "")  # an unreadable row matches no checkpointed link


def _rows(store: LedgerApplication, conversation_id: str) -> Iterator[StoredEvent]:
    recorder = store.recorder
    gt = None
    while True:
        rows = recorder.select_events(conversation_id, gt=gt, limit=PAGE)
        yield from rows
        if len(rows) < PAGE:
            return
        gt = rows[-1].originator_version


def _scheme(store: LedgerApplication, stored: StoredEvent) -> int:
    """The digest scheme a conversation's Started row names (the plain one if it is unreadable:
    a row altered to name another scheme then fails every digest check)."""
    try:
        event = store.mapper.to_domain_event(stored)
    except Exception:  # an unreadable row is reported by the rows after it
        return PLAIN
    if isinstance(event, Conversation.Started | Conversation.Forked):
        return event.digests
    return PLAIN


def _check_erasure(store: LedgerApplication, stored: StoredEvent, previous: str) -> str:
    """The problem, or "", of the Erased event that ends an erased stream."""
    try:
        event = store.mapper.to_domain_event(stored)
    except Exception as exc:  # an unreadable row is a finding, not a crash
        return f"altered: the row cannot be read ({type(exc).__name__}: {exc})"
    assert isinstance(event, Conversation.Erased)  # its topic names nothing else
    if event.chain != event.link(previous):
        return "altered: the erasure's hash does not follow from the previous one"
    return ""


def _check_row(
    store: LedgerApplication, stored: StoredEvent, previous: str, digests: int
) -> tuple[str, str]:
    """(problem or "", the link the next row must follow)."""
    try:
        event = store.mapper.to_domain_event(stored)
    except Exception as exc:  # any unreadable row is a finding, not a crash
        return f"altered: the row cannot be read ({type(exc).__name__}: {exc})", _stored_link(
            stored, previous
        )
    if not isinstance(event, Conversation.MessageRecorded):
        return f"altered: unexpected {type(event).__name__} event", previous
    expected = event.link(previous)
    if event.chain != expected:
        return "altered: its hash does not follow from the previous one", event.chain
    if not event.erased and _digest(store, event, digests) != event.digest:
        return "altered: the message does not match its digest", event.chain
    return "", event.chain


def _digest(store: LedgerApplication, event: Conversation.MessageRecorded, digests: int) -> str:
    if digests == PLAIN:
        return event.message.digest()
    return store.sealer.digest(event.originator_id, event.message.canonical_json(), create=False)


def _stored_link(stored: StoredEvent, fallback: str) -> str:
    try:
        return str(json.loads(stored.state)["chain"])
    except (ValueError, KeyError, TypeError):
        return fallback
