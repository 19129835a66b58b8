"""Summaries: recorded as derived events, and compaction that records one without losing data.

Nothing here deletes or rewrites a message. A summary is one more event, saved atomically with
nothing else in the conversation's summary stream; compaction asks a summarizer for one and
records it only if it succeeded. Whatever fails (the summarizer raising, timing out, replying
with nothing, a write losing a race), history and memory are as they were.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator, Sequence
from typing import Any

from eventsourcing.persistence import IntegrityError

from chatledger.domain import (
    Conversation,
    ConversationErased,
    InvalidInput,
    Limits,
    Message,
    Summarizer,
    SummarizerFailed,
    Summary,
    SummaryWindow,
    TokenCounter,
    UnknownConversation,
    WriteContention,
    check_conversation_id,
    check_count,
    check_text,
    utc_now,
)
from chatledger.domain.conversation import (
    summary_genesis,
    summary_stream_id,
)
from chatledger.domain.policies import summary_message
from chatledger.infrastructure.services.reading import Reading
from chatledger.infrastructure.services.summary_reads import (
    summaries_newest_first,
    summary_events,
    summary_events_newest_first,
)
from chatledger.infrastructure.storage.application import LedgerApplication
from chatledger.projections import HistoryEntry
from chatledger.projections.summaries import coverage_problem, summarizable

MAX_APPEND_ATTEMPTS = 100
MAX_MODEL_CHARACTERS = 200
FIRST_PAGE, MAX_PAGE = 64, 4096
"""Rows read first when walking back from the newest message, and the most read at once."""


class Summaries:
    """Records, lists and compacts summaries of the conversations in one store."""

    def __init__(
        self, app: LedgerApplication, reading: Reading, counter: TokenCounter, *, limits: Limits
    ) -> None:
        self._app = app
        self._reading = reading
        self._counter = counter
        self._limits = limits

    def record_summary(
        self, conversation_id: str, *, covers: int, text: str, model: str | None = None
    ) -> Summary:
        """Record that ``text`` summarizes messages 1..``covers``; return the summary.

        Raises InvalidInput naming ``covers`` when it is past the history, splits a tool
        exchange or ends inside an open one; naming ``text`` or ``model`` when they cannot be
        stored. Nothing is written then.
        """
        check_conversation_id(conversation_id)
        check_count("covers", covers, minimum=1)
        self._check_text("text", text)
        if model is not None:
            check_text("model", model, max_length=MAX_MODEL_CHARACTERS)
        event, _ = self._record(conversation_id, covers, text, model, known=None)
        return Summary.recorded(event)

    def summaries(self, conversation_id: str, *, at: int | None = None) -> list[Summary]:
        """The conversation's summaries, oldest first (as of position ``at``, if given)."""
        check_conversation_id(conversation_id)
        if at is not None:
            check_count("at", at)
        found = [
            Summary.recorded(event)
            for event in summary_events(self._app, conversation_id)
            if at is None or event.position <= at
        ]
        if found and self._reading.prefix_erased(conversation_id):
            # What a branch's summary says of its prefix went with the parent's erasure.
            return [summary.model_copy(update={"erased": True, "text": ""}) for summary in found]
        return found

    def compact(
        self,
        conversation_id: str,
        summarizer: Summarizer,
        policy: SummaryWindow,
        *,
        timeout: float | None = None,
        model: str | None = None,
    ) -> Summary | None:
        """Summarize what ``policy``'s view leaves out after its summary; record and return it.

        The summarizer gets the text of the summary the view shows (else of the newest one
        before the view's messages, else None) and the whole units left out after it. Returns
        None, calling nothing, when nothing is left out or less than the policy's
        ``compact_after_tokens``. Raises SummarizerFailed, recording nothing, when the
        summarizer raises, takes longer than ``timeout`` seconds or returns no text. When
        another compaction recorded a summary covering as much meanwhile, returns that one.
        """
        check_conversation_id(conversation_id)
        if not isinstance(policy, SummaryWindow):
            raise InvalidInput("policy", f"must be a SummaryWindow, not {type(policy).__name__}")
        if not callable(summarizer):
            raise InvalidInput("summarizer", "must be callable as summarizer(previous, messages)")
        _check_timeout(timeout)
        if model is not None:
            check_text("model", model, max_length=MAX_MODEL_CHARACTERS)
        view = self._reading.memory(conversation_id, policy)
        if view.position == 0:
            raise UnknownConversation(conversation_id)
        shown = [entry.position for entry in view.entries if not entry.message.is_instruction]
        recent = shown[0] if shown else view.position + 1
        base = self._base(conversation_id, view.summary.number if view.summary else None, recent)
        start = base.covers if base is not None else 0
        covers = self._boundary(conversation_id, start, recent - 1)
        if covers is None:
            return None
        entries = self._reading.history(conversation_id, after=start, before=covers + 1).entries
        left_out = summarizable(entries)
        tokens = sum(entry.tokens for entry in left_out)
        threshold = policy.compact_after_tokens
        if not left_out or (threshold is not None and tokens < threshold):
            return None
        previous = base.text if base is not None else None
        messages = tuple(entry.message for entry in left_out)
        text = self._summarize(conversation_id, summarizer, previous, messages, timeout)
        model = model if model is not None else _model_of(summarizer)
        event, _ = self._record(conversation_id, covers, text, model, known=view.summaries)
        return Summary.recorded(event)

    # Compaction's steps

    def _base(self, conversation_id: str, shown: int | None, recent: int) -> Summary | None:
        """The summary compaction extends: the one shown, else the newest before ``recent``."""
        for summary in summaries_newest_first(self._app, conversation_id, upto=shown):
            if shown is not None or summary.covers < recent:
                return summary
        return None

    def _boundary(self, conversation_id: str, start: int, highest: int) -> int | None:
        """The highest position in (start, highest] a summary may cover; None if none may."""
        covers = highest
        while covers > start:
            problem = coverage_problem(self._newest_first(conversation_id), covers)
            if problem is None:
                return covers
            covers = problem.before
        return None

    def _summarize(
        self,
        conversation_id: str,
        summarizer: Summarizer,
        previous: str | None,
        messages: Sequence[Message],
        timeout: float | None,
    ) -> str:
        """The summarizer's reply, checked; SummarizerFailed for anything else."""
        outcome: list[Any] = []
        finished = threading.Event()

        def run() -> None:
            try:
                outcome.append(summarizer(previous, messages))
            except Exception as exc:
                outcome.append(exc)
            finally:
                finished.set()

        if timeout is None:
            run()
        else:
            # A daemon thread: a summarizer that never returns must not keep the process alive.
            threading.Thread(target=run, name="chatledger-summarizer", daemon=True).start()
            if not finished.wait(timeout):
                raise SummarizerFailed(conversation_id, f"no reply within {timeout:g} s")
        reply = outcome[0]
        if isinstance(reply, Exception):
            raise SummarizerFailed(
                conversation_id, f"it raised {type(reply).__name__}: {reply}"
            ) from reply
        if not isinstance(reply, str):
            raise SummarizerFailed(conversation_id, f"it returned a {type(reply).__name__}")
        if not reply.strip():
            raise SummarizerFailed(conversation_id, "it returned no text")
        try:
            self._check_text("text", reply)
        except InvalidInput as exc:
            raise SummarizerFailed(conversation_id, f"its text cannot be stored: {exc}") from None
        return reply

    # Recording

    def _record(
        self, conversation_id: str, covers: int, text: str, model: str | None, *, known: int | None
    ) -> tuple[Conversation.SummaryRecorded, bool]:
        """The summary event saved (and True), or, if ``known`` is given and a summary newer
        than number ``known`` covers at least as much, that one (and False)."""
        head = self._head(conversation_id)
        if covers > head:
            raise InvalidInput(
                "covers", f"position {covers} is past the end of the history ({head} messages)"
            )
        problem = coverage_problem(self._newest_first(conversation_id), covers)
        if problem is not None:
            raise InvalidInput("covers", problem.problem)
        anchor = self._anchor(conversation_id, covers)
        tokens = self._counter.count(summary_message(1, covers, text))
        digest = self._app.sealer.digest(conversation_id, text.encode("utf-8"))
        stream = summary_stream_id(conversation_id)
        for _ in range(MAX_APPEND_ATTEMPTS):
            newer = summary_events_newest_first(self._app, conversation_id)
            last = next(newer, None)
            if known is not None and last is not None and last.number > known:
                for event in (last, *newer):
                    if event.number <= known:
                        break
                    if event.covers >= covers:
                        return event, False
            number = last.number + 1 if last is not None else 1
            timestamp = utc_now()
            # Never earlier than the summary before: which summaries a view at some position
            # chooses from is then always the oldest ones.
            position = max(head, last.position if last is not None else 0)
            previous = last.chain if last is not None else summary_genesis(conversation_id)
            event = Conversation.SummaryRecorded(
                originator_id=stream,
                originator_version=number,
                timestamp=timestamp,
                conversation_id=conversation_id,
                covers=covers,
                position=position,
                text=text,
                model=model,
                tokens=tokens,
                counter=self._counter.name,
                digest=digest,
                anchor=anchor,
                chain="",
            )
            # The link covers the event's own fields: made from the event, not restated.
            event = event.model_copy(update={"chain": event.link(previous)})
            try:
                self._app.save(event)
            except IntegrityError:
                continue  # another summary took the number: read it and go again
            return event, True
        raise WriteContention(f"stream {stream!r}")

    def _head(self, conversation_id: str) -> int:
        """The conversation's length; UnknownConversation or ConversationErased if it has none."""
        row = self._app.tail(conversation_id)
        if row is None:
            raise UnknownConversation(conversation_id)
        if self._app.ended(row):
            raise ConversationErased(conversation_id)
        head = self._reading.head(conversation_id)
        if head == 0:
            raise UnknownConversation(conversation_id)
        return head

    def _anchor(self, conversation_id: str, position: int) -> str:
        """The conversation's chain link at ``position``."""
        return self._reading.message_event(conversation_id, position).chain

    def _newest_first(self, conversation_id: str) -> Iterator[HistoryEntry]:
        """The conversation's entries from the newest back, read in growing pages as pulled."""
        return self._reading.newest_first(conversation_id)

    def _check_text(self, field: str, text: object) -> None:
        check_text(field, text)
        assert isinstance(text, str)
        if not text.strip():
            raise InvalidInput(field, "must hold some text")
        size = len(text.encode("utf-8"))
        if size > self._limits.max_content_bytes:
            raise InvalidInput(
                field,
                f"is {size} bytes, over the limit max_content_bytes of "
                f"{self._limits.max_content_bytes} bytes",
            )


def _check_timeout(timeout: float | None) -> None:
    if timeout is None:
        return
    if (
        isinstance(timeout, bool)
        or not isinstance(timeout, (int, float))
        or not math.isfinite(timeout)
        or timeout <= 0
    ):
        raise InvalidInput("timeout", f"must be a positive number of seconds, got {timeout!r}")


def _model_of(summarizer: object) -> str | None:
    model = getattr(summarizer, "model", None)
    return model if isinstance(model, str) and model else None
