"""Export conversations as JSON lines, and import them again, idempotently.

An export line holds a message with its position, time, token count, digest and chain link;
a conversation's first line also holds its digest scheme and, for keyed digests, its data
key. Import restores such a conversation as it was recorded: same times, counts, digests and
chain, so the restored store verifies against a checkpoint of the source taken before the
export. It checks every line first (a message edited after export no longer matches its link)
and writes nothing if one fails. Lines without digests (exports made before digests were
exported) are recorded afresh, with a new chain.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TextIO, cast

from chatledger.domain import (
    ChatLedgerError,
    Conversation,
    DomainEvent,
    InvalidInput,
    Message,
    MessageKey,
    UnknownConversation,
    check_conversation_id,
    project_conversation,
)
from chatledger.domain.attachments import detach, inline
from chatledger.domain.conversation import KEYED, PLAIN, genesis

# Re-exported: the error lived here before the domain's error tree held it.
from chatledger.domain.errors import MalformedLine as MalformedLine
from chatledger.infrastructure.services.attachments import Attachments
from chatledger.infrastructure.services.branches import save_branch
from chatledger.infrastructure.services.reading import Reading
from chatledger.infrastructure.services.recording import Recording
from chatledger.infrastructure.services.verification import link_at
from chatledger.infrastructure.storage.application import LedgerApplication
from chatledger.infrastructure.storage.keys import iter_all
from chatledger.infrastructure.storage.sealing import keyed_claim_id, keyed_digest

PAGE = 1000
IMPORT_BATCH = 500
IMPORT_BATCH_BYTES = 64 * 1024 * 1024
"""A batch ends once its binary data (base64, inline) reaches this, whatever its length: a
file of large attachments is recorded a few at a time, within the batch limits."""
_HEX64 = re.compile(r"[0-9a-f]{64}")


def export_lines(
    store: LedgerApplication, attachments: Attachments, conversation_id: str
) -> Iterator[dict[str, Any]]:
    """One JSON object per message, oldest first: position, time, tokens, hash and message.

    A part stored as an attachment is exported with its data inline (base64), so the file
    alone restores it: an import stores it as an attachment again.
    """
    check_conversation_id(conversation_id)
    store.tail(conversation_id)  # an erased stream's key is forgotten before anything opens
    events = store.events
    gt = 0
    found = False
    scheme = PLAIN
    fork: Conversation.Forked | None = None
    first = 1
    while True:
        page = list(events.get(conversation_id, gt=gt, limit=PAGE))
        for event in page:
            if isinstance(event, Conversation.Started):
                scheme = event.digests
            if isinstance(event, Conversation.Forked):
                scheme, fork, first = event.digests, event, event.fork_point + 1
                if len(page) == 1:  # a branch with no message of its own: its header alone
                    found = True
                    yield _first_line(store, conversation_id, scheme, fork, {})
            if isinstance(event, Conversation.MessageRecorded):
                found = True
                message = event.message
                if not event.erased:
                    # A resolver a message: bytes held only while their line is written.
                    message = inline(message, attachments.resolver(conversation_id))
                line: dict[str, Any] = {
                    "conversation_id": conversation_id,
                    "position": event.position,
                    "recorded_at": event.timestamp.isoformat(),
                    "tokens": event.tokens,
                    "counter": event.counter,
                    "hash": event.chain,
                    "digest": event.digest,
                    "erased": event.erased,
                    "message": message.stored_form(),
                }
                if event.position == first and not event.erased:
                    line = _first_line(store, conversation_id, scheme, fork, line)
                yield line
        if len(page) < PAGE:
            break
        gt = page[-1].originator_version
    if not found:
        raise UnknownConversation(conversation_id)


def _first_line(
    store: LedgerApplication,
    conversation_id: str,
    scheme: int,
    fork: Conversation.Forked | None,
    line: dict[str, Any],
) -> dict[str, Any]:
    """A conversation's first line: its digest scheme, its key, and a branch's fork."""
    line = {"conversation_id": conversation_id, **line, "digests": scheme}
    key = store.keys.key(conversation_id) if scheme == KEYED else None
    if key is not None:
        line["key"] = base64.b64encode(key).decode("ascii")
    if fork is not None:
        line["fork"] = {
            "parent": fork.parent,
            "fork_point": fork.fork_point,
            "parent_link": fork.parent_link,
            "link": fork.link,
            "created_at": fork.timestamp.isoformat(),
            "system_position": fork.system_position,
            "changes": fork.changes,
        }
    return line


def export_all(store: LedgerApplication, attachments: Attachments) -> Iterator[dict[str, Any]]:
    """Every conversation's lines, conversation by conversation."""
    for record in iter_all(store.keys):
        yield from export_lines(store, attachments, record.conversation_id)


def write_jsonl(lines: Iterable[dict[str, Any]], out: TextIO) -> int:
    """Write objects as JSON lines; return how many."""
    count = 0
    for line in lines:
        out.write(json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n")
        count += 1
    return count


@dataclass(frozen=True)
class Recorded:
    """How a line's message was first recorded: what restoring it keeps."""

    position: int
    recorded_at: datetime
    tokens: int
    counter: str
    digest: str
    link: str
    digests: int | None = None
    """The conversation's digest scheme, on its first line."""
    key: bytes | None = None
    """The conversation's data key, on the first line of a conversation of keyed digests."""


@dataclass(frozen=True)
class ImportLine:
    """One parsed line of an import file."""

    line: int
    conversation_id: str
    message: Message | None
    """None on a branch's header line, when the branch has no message of its own."""
    erased: bool
    recorded: Recorded | None = None
    """How it was recorded, when the line says (exports since digests were exported)."""
    fork: Conversation.Forked | None = None
    """On a branch's first line: the event that began it, as exported."""
    key: bytes | None = None
    """On a branch's header line: its data key (a message's first line has it in ``recorded``)."""


@dataclass(frozen=True)
class ImportReport:
    """What an import did: lines read, messages newly recorded, lines already present or erased."""

    lines: int
    recorded: int
    unchanged: int
    erased_skipped: int
    restored: int = 0
    """Of ``recorded``, the messages restored with their exported times, digests and chain."""


def parse_lines(source: Iterable[str]) -> list[ImportLine]:
    """Parse and validate a whole file before anything is written; errors name the line."""
    parsed = []
    for number, text in enumerate(source, start=1):
        if not text.strip():
            continue
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise MalformedLine(number, "json", f"is not valid JSON ({exc.msg})") from None
        if not isinstance(data, dict):
            raise MalformedLine(number, "line", "must be a JSON object")
        try:
            conversation_id = check_conversation_id(data.get("conversation_id"))
            fork = _forked(conversation_id, data) if "fork" in data else None
            header = fork is not None and data.get("message") is None
            message = None if header else Message.parse(data.get("message"))
            recorded = _recorded(data) if "digest" in data else None
            key = _key(data) if header else None
        except InvalidInput as exc:
            raise MalformedLine(number, exc.field, exc.problem) from None
        erased = bool(data.get("erased"))
        parsed.append(ImportLine(number, conversation_id, message, erased, recorded, fork, key))
    return parsed


def _forked(conversation_id: str, data: dict[str, Any]) -> Conversation.Forked:
    """The ``Forked`` event a branch's first line exports; InvalidInput names a bad field."""
    fork = data.get("fork")
    if not isinstance(fork, dict):
        raise InvalidInput("fork", "must be an object, as exported")
    try:
        created_at = datetime.fromisoformat(str(fork.get("created_at")))
        event = Conversation.Forked.model_validate(
            {
                "originator_id": conversation_id,
                "originator_version": 1,
                "timestamp": created_at,
                "digests": data.get("digests", KEYED),
                "parent": check_conversation_id(fork.get("parent")),
                "fork_point": fork.get("fork_point"),
                "parent_link": fork.get("parent_link"),
                "system_position": fork.get("system_position"),
                "changes": fork.get("changes", 0),
                "link": fork.get("link"),
            }
        )
    except (ValueError, TypeError) as exc:
        raise InvalidInput("fork", f"is not a branch's fork as exported ({exc})") from None
    if created_at.tzinfo is None:
        raise InvalidInput("fork.created_at", "must say its time zone, as exported")
    if event.link != event.expected_link():
        raise InvalidInput("fork", "does not match its link: it was changed after export")
    return event


def _recorded(data: dict[str, Any]) -> Recorded:
    """The line's record of how its message was stored; InvalidInput names a bad field."""
    position = data.get("position")
    tokens = data.get("tokens")
    for field, value in (("position", position), ("tokens", tokens)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise InvalidInput(field, f"must be a whole number, got {value!r}")
    assert isinstance(position, int)  # checked just above
    assert isinstance(tokens, int)
    counter = data.get("counter")
    if not isinstance(counter, str) or not counter:
        raise InvalidInput("counter", "must name the token counter")
    hashes = {}
    for field in ("digest", "hash"):
        value = data.get(field)
        if not isinstance(value, str) or _HEX64.fullmatch(value) is None:
            raise InvalidInput(field, "must be 64 lowercase hex digits, as exported")
        hashes[field] = value
    try:
        recorded_at = datetime.fromisoformat(str(data.get("recorded_at")))
    except ValueError:
        raise InvalidInput("recorded_at", "must be an ISO 8601 time, as exported") from None
    if recorded_at.tzinfo is None:
        raise InvalidInput("recorded_at", "must say its time zone, as exported")
    digests = data.get("digests")
    if digests is not None and digests not in (PLAIN, KEYED):
        raise InvalidInput("digests", f"must be {PLAIN} or {KEYED}, got {digests!r}")
    return Recorded(
        position,
        recorded_at,
        tokens,
        counter,
        hashes["digest"],
        hashes["hash"],
        digests,
        _key(data),
    )


def _key(data: dict[str, Any]) -> bytes | None:
    """The data key a conversation's first line exports, if it does."""
    if "key" not in data:
        return None
    try:
        key = base64.b64decode(str(data["key"]), validate=True)
    except binascii.Error:
        raise InvalidInput("key", "must be base64, as exported") from None
    if len(key) != 32:
        raise InvalidInput("key", f"must be a 32-byte key, got {len(key)} bytes")
    return key


def import_lines(
    recording: Recording,
    reading: Reading,
    lines: list[ImportLine],
    progress: Callable[[int], None] | None = None,
    store: LedgerApplication | None = None,
    attachments: Attachments | None = None,
) -> ImportReport:
    """Import parsed lines; lines already present change nothing.

    With ``store``, conversations whose lines say how they were recorded are restored as they
    were (every line checked against its link before anything is written); the others, and
    every conversation without ``store`` and ``attachments``, are recorded afresh in batches.
    """
    plans = {}
    if store is not None and attachments is not None:
        plans = _restorations(store, reading, lines, attachments.threshold)
    recorded = unchanged = erased = restored = 0
    for plan in _parents_first(plans):
        assert store is not None  # plans are made with both
        assert attachments is not None
        _write(store, reading, attachments, plan)
        restored += plan.messages
        unchanged += plan.present
    afresh = [
        line
        for line in lines
        if line.conversation_id not in plans and (line.message is not None or line.erased)
    ]
    index = 0
    while index < len(afresh):
        conversation_id = afresh[index].conversation_id
        batch: list[ImportLine] = []
        size = 0
        while (
            index < len(afresh)
            and afresh[index].conversation_id == conversation_id
            and len(batch) < IMPORT_BATCH
            and size < IMPORT_BATCH_BYTES
        ):
            message = afresh[index].message
            if afresh[index].erased or message is None:
                erased += 1
            else:
                batch.append(afresh[index])
                size += _binary_length(message)
            index += 1
        if batch:
            before = reading.version(conversation_id)
            try:
                recording.record(conversation_id, [cast(Message, line.message) for line in batch])
            except ChatLedgerError as exc:
                raise InvalidInput(f"line {batch[0].line}", str(exc)) from exc
            added = reading.version(conversation_id) - before
            recorded += added
            unchanged += len(batch) - added
        if progress is not None:
            progress(len(lines) - len(afresh) + index)
    if progress is not None and not afresh:
        progress(len(lines))
    return ImportReport(len(lines), recorded + restored, unchanged, erased, restored)


def _binary_length(message: Message) -> int:
    return sum(len(getattr(part, "data", None) or "") for part in message.parts)


@dataclass(frozen=True)
class _Plan:
    """What restores one conversation: its key, its saves, and how many lines were present."""

    conversation_id: str
    key: bytes | None
    saves: list[tuple[list[DomainEvent], Conversation, list[Message]]]
    """Events of at most IMPORT_BATCH messages each, the state each save ends in, and the
    messages as exported (binary data inline), whose attachments the save stores."""
    messages: int
    present: int
    fork: Conversation.Forked | None = None
    """A branch's first event: its parent is restored before it, and it is listed in its tree."""
    new: bool = True
    """The store holds nothing of the conversation yet."""
    links: dict[int, str] | None = None
    """Position -> chain link of each message the lines hold (a branch's parent check)."""


def _restorations(
    store: LedgerApplication, reading: Reading, lines: list[ImportLine], threshold: int
) -> dict[str, _Plan]:
    """A plan per conversation whose lines all say how they were recorded; checks them all.

    Raises MalformedLine for the first line whose message or fields do not match its link,
    and InvalidInput for a conversation the store holds with another history.
    """
    grouped: dict[str, list[ImportLine]] = {}
    for line in lines:
        grouped.setdefault(line.conversation_id, []).append(line)
    plans = {}
    for conversation_id, group in grouped.items():
        if any(
            (line.recorded is None and line.message is not None) or line.erased for line in group
        ):
            continue  # an old export, or an erased conversation: recorded afresh, or skipped
        plans[conversation_id] = _plan(store, reading, conversation_id, group, threshold)
    for plan in plans.values():
        if plan.fork is not None and plan.new:
            _check_parent(store, plans, plan.fork, grouped[plan.conversation_id][0].line)
    return plans


def _check_parent(
    store: LedgerApplication, plans: dict[str, _Plan], fork: Conversation.Forked, line: int
) -> None:
    """Refuse a branch whose parent is neither imported with it nor here with its prefix."""
    found = _link_in(store, plans, fork.parent, fork.fork_point)
    if found is None:
        raise InvalidInput(
            f"line {line}",
            f"branch {fork.originator_id!r} forks {fork.parent!r}, which is neither in the "
            "import nor in this store: import the tree whole, parents with their branches",
        )
    if found != fork.parent_link:
        raise InvalidInput(
            f"line {line}",
            f"branch {fork.originator_id!r} forks {fork.parent!r} at {fork.fork_point}, which "
            "is here with another history",
        )


def _link_in(
    store: LedgerApplication, plans: dict[str, _Plan], conversation_id: str, position: int
) -> str | None:
    """The chain head at ``position`` of a conversation being imported, or else stored."""
    plan = plans.get(conversation_id)
    if plan is not None:
        if plan.links and position in plan.links:
            return plan.links[position]
        fork = plan.fork
        if fork is not None and position == fork.fork_point:
            return fork.link
        if fork is not None and position < fork.fork_point:
            return _link_in(store, plans, fork.parent, position)
        if fork is None and position == 0:
            return genesis(conversation_id)
    if not store.recorder.select_events(conversation_id, limit=1):
        return None
    return link_at(store, conversation_id, position)


def _parents_first(plans: dict[str, _Plan]) -> list[_Plan]:
    """The plans in an order that writes each branch after the parent it forks."""
    ordered: list[_Plan] = []
    done: set[str] = set()
    waiting = list(plans.values())
    while waiting:
        ready = [
            plan
            for plan in waiting
            if plan.fork is None or plan.fork.parent not in plans or plan.fork.parent in done
        ]
        ordered += ready
        done |= {plan.conversation_id for plan in ready}
        waiting = [plan for plan in waiting if plan.conversation_id not in done]
    return ordered


def _plan(
    store: LedgerApplication,
    reading: Reading,
    conversation_id: str,
    group: list[ImportLine],
    threshold: int,
) -> _Plan:
    head = group[0]
    fork = head.fork
    started: DomainEvent
    if fork is not None:
        key = head.key if head.message is None else (head.recorded.key if head.recorded else None)
        if fork.digests == KEYED and key is None:
            raise MalformedLine(head.line, "key", "is required with keyed digests (digests 2)")
        started = fork
    else:
        first = head.recorded
        assert first is not None  # the caller checked every line has one
        if first.position != 1 or first.digests is None:
            raise MalformedLine(
                head.line, "position", "a conversation's lines must start at its first message"
            )
        key = first.key
        if first.digests == KEYED and key is None:
            raise MalformedLine(head.line, "key", "is required with keyed digests (digests 2)")
        started = Conversation.start(conversation_id, digests=first.digests).model_copy(
            update={"timestamp": first.recorded_at}
        )
    state = project_conversation(None, [started])
    assert state is not None
    events: list[tuple[Conversation.MessageRecorded, MessageKey.Claimed]] = []
    states: list[Conversation] = []
    for line in group:
        recorded = line.recorded
        if line.message is None:
            continue  # a branch's header line
        assert recorded is not None
        if recorded.position != state.message_count + 1:
            raise MalformedLine(
                line.line, "position", f"must be {state.message_count + 1}, got {recorded.position}"
            )
        # As it is stored: binary data over the threshold held apart, which the digest covers.
        message = detach(line.message, threshold)[0]
        digest = keyed_digest(key, message.canonical_json()) if key else message.digest()
        if digest != recorded.digest:
            raise MalformedLine(
                line.line, "message", "does not match its digest: it was changed after export"
            )
        event = state.restore(
            message,
            timestamp=recorded.recorded_at,
            tokens=recorded.tokens,
            counter=recorded.counter,
            digest=digest,
        )
        if event.chain != recorded.link:
            raise MalformedLine(
                line.line,
                "hash",
                "does not match the line's fields: they were changed after export",
            )
        claim_id = keyed_claim_id(key, message.id) if key else None
        claim = MessageKey.claim(
            conversation_id, message, event.position, digest=digest, stream_id=claim_id
        )
        state = state.apply(event)
        events.append((event, claim))
        states.append(state)
    offset = fork.fork_point if fork is not None else 0
    new = not store.recorder.select_events(conversation_id, limit=1)
    present = 0 if new else min(reading.version(conversation_id) - offset, len(events))
    if not new:
        expected = events[present - 1][0].chain if present else getattr(fork, "link", None)
        if expected is not None and link_at(store, conversation_id, offset + present) != expected:
            raise InvalidInput(
                f"line {group[0].line}",
                f"conversation {conversation_id!r} is here with another history: restore it "
                "into a store without it, or give it another id",
            )
    messages = [line.message for line in group if line.message is not None]
    saves: list[tuple[list[DomainEvent], Conversation, list[Message]]] = []
    for start in range(present, len(events), IMPORT_BATCH):
        chunk = events[start : start + IMPORT_BATCH]
        batch: list[DomainEvent] = [started] if start == 0 and new else []
        batch += [item for pair in chunk for item in pair]
        exported = messages[start : start + IMPORT_BATCH]
        saves.append((batch, states[start + len(chunk) - 1], exported))
    if new and not events:
        saves.append(([started], state, []))  # a branch with no message of its own
    links = {event.position: event.chain for event, _ in events}
    return _Plan(conversation_id, key, saves, len(events) - present, present, fork, new, links)


def _write(
    store: LedgerApplication, reading: Reading, attachments: Attachments, plan: _Plan
) -> None:
    """Save a plan: the conversation's key first (a key without events reads as nothing),
    then each save's events with the sealed attachments its messages hold; a new branch's
    first save goes with the event listing it in its tree."""
    if plan.key is not None and plan.new and plan.saves:
        store.keys.restore(plan.conversation_id, plan.key, plan.saves[0][1].created_on)
    for index, (events, state, exported) in enumerate(plan.saves):
        _, rows = attachments.detach(plan.conversation_id, exported)
        if index == 0 and plan.new and plan.fork is not None:
            # Listed in its tree with its first event; its messages follow in the same way.
            save_branch(store, reading.lineage.root(plan.fork.parent), plan.fork)
            reading.lineage.learn(plan.conversation_id, plan.fork)
            events = [event for event in events if event is not plan.fork]
            if not events:
                continue
        store.record(state, events, rows)
