"""Export conversations as JSON lines, and import them again, idempotently."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, TextIO

from chatledger.domain import (
    ChatLedgerError,
    Conversation,
    InvalidInput,
    Message,
    UnknownConversation,
    check_conversation_id,
)
from chatledger.domain.attachments import inline

# Re-exported: the error lived here before the domain's error tree held it.
from chatledger.domain.errors import MalformedLine as MalformedLine
from chatledger.infrastructure.services.attachments import Attachments
from chatledger.infrastructure.services.reading import Reading
from chatledger.infrastructure.services.recording import Recording
from chatledger.infrastructure.storage.application import LedgerApplication
from chatledger.infrastructure.storage.keys import iter_all

PAGE = 1000
IMPORT_BATCH = 500
IMPORT_BATCH_BYTES = 64 * 1024 * 1024
"""A batch ends once its binary data (base64, inline) reaches this, whatever its length: a
file of large attachments is recorded a few at a time, within the batch limits."""


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
    gt = 1
    found = False
    while True:
        page = list(events.get(conversation_id, gt=gt, limit=PAGE))
        for event in page:
            if isinstance(event, Conversation.MessageRecorded):
                found = True
                message = event.message
                if not event.erased:
                    # A resolver a message: bytes held only while their line is written.
                    message = inline(message, attachments.resolver(conversation_id))
                yield {
                    "conversation_id": conversation_id,
                    "position": event.position,
                    "recorded_at": event.timestamp.isoformat(),
                    "tokens": event.tokens,
                    "counter": event.counter,
                    "hash": event.chain,
                    "erased": event.erased,
                    "message": message.stored_form(),
                }
        if len(page) < PAGE:
            break
        gt = page[-1].originator_version
    if not found:
        raise UnknownConversation(conversation_id)


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
class ImportLine:
    """One parsed line of an import file."""

    line: int
    conversation_id: str
    message: Message
    erased: bool


@dataclass(frozen=True)
class ImportReport:
    """What an import did: lines read, messages newly recorded, lines already present or erased."""

    lines: int
    recorded: int
    unchanged: int
    erased_skipped: int


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
            message = Message.parse(data.get("message"))
        except InvalidInput as exc:
            raise MalformedLine(number, exc.field, exc.problem) from None
        parsed.append(ImportLine(number, conversation_id, message, bool(data.get("erased"))))
    return parsed


def import_lines(
    recording: Recording,
    reading: Reading,
    lines: list[ImportLine],
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Record parsed lines in batches per conversation; lines already present change nothing."""
    recorded = unchanged = erased = 0
    index = 0
    while index < len(lines):
        conversation_id = lines[index].conversation_id
        batch: list[ImportLine] = []
        size = 0
        while (
            index < len(lines)
            and lines[index].conversation_id == conversation_id
            and len(batch) < IMPORT_BATCH
            and size < IMPORT_BATCH_BYTES
        ):
            if lines[index].erased:
                erased += 1
            else:
                batch.append(lines[index])
                size += _binary_length(lines[index].message)
            index += 1
        if batch:
            before = reading.version(conversation_id)
            try:
                recording.record(conversation_id, [line.message for line in batch])
            except ChatLedgerError as exc:
                raise InvalidInput(f"line {batch[0].line}", str(exc)) from exc
            added = reading.version(conversation_id) - before
            recorded += added
            unchanged += len(batch) - added
        if progress is not None:
            progress(index)
    return ImportReport(len(lines), recorded, unchanged, erased)


def _binary_length(message: Message) -> int:
    return sum(len(getattr(part, "data", None) or "") for part in message.parts)
