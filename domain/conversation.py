"""The Conversation aggregate, its events, and the message-id claims that make recording idempotent.

Aggregates here are immutable pydantic models evolved by a projector function, the style the
eventsourcing library supports alongside its mutable aggregates. A conversation's stream holds one
``Started`` event and then one ``MessageRecorded`` event per message, so a message's position is
its event's version minus one and positions never have holes. Summaries, which are events
too, live in a stream of their own beside it (``chatledger.domain.summaries`` says why), as
memory changes (clears and retractions) do.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from chatledger.domain.errors import ConversationErased
from chatledger.domain.messages import Message

STARTED_VERSION = 1
PLAIN, KEYED = 1, 2
DIGEST_SCHEMES = {
    PLAIN: "sha256 of the message's canonical JSON, and of the system prompt in the state",
    KEYED: "HMAC-SHA256 under a key derived from the conversation's data key, which erasure "
    "destroys; message-id claims are keyed the same way, and the state keeps no prompt digest",
}
"""How a conversation's stored digests are made. Every conversation begun since keyed digests
has scheme 2; those begun before keep scheme 1, so their chains and claims stay as they were."""
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def utc_now() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


class DomainEvent(BaseModel):
    """Base of every stored event: frozen, strict about extra fields, versioned by class."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    class_version: ClassVar[int] = 1

    originator_id: str
    originator_version: int
    timestamp: datetime = Field(default_factory=utc_now)


class Conversation(BaseModel):
    """What recording needs to know about a conversation, and nothing more.

    Message text is never part of this state, so snapshots stay small whatever is said.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    version: int
    created_on: datetime
    modified_on: datetime
    system_position: int | None = None
    system_digest: str | None = None
    """A plain sha256 of the system prompt, kept by states of scheme 1 only."""
    head: str = ""
    """The hash chain's newest link: covers every message recorded so far."""
    erased_at: datetime | None = None
    """When the conversation was erased, if it was: from then on it records nothing."""
    digests: int = 1
    """The digest scheme of the conversation's messages and claims (see ``DIGEST_SCHEMES``)."""
    parent: str | None = None
    """The conversation this one was forked from (None for one begun afresh)."""
    fork_point: int = 0
    """A fork's last shared position: positions 1..fork_point are its parent's, by reference."""

    class Started(DomainEvent):
        """A conversation began; its first message follows as version 2."""

        digests: int = 1
        """The digest scheme its messages are recorded under: 1, a plain sha256 (every
        conversation begun before keyed digests), or 2, keyed (see ``DIGEST_SCHEMES``)."""

    class Forked(DomainEvent):
        """A conversation began as a branch of ``parent``: its messages 1..``fork_point`` are
        the parent's, shared by reference, and its own follow at ``fork_point + 1``.

        The stream's first event, as ``Started`` is a conversation's begun afresh; its next
        version is ``fork_point + 2``, so a position is still its event's version minus one.
        """

        digests: int = KEYED
        parent: str
        fork_point: int = Field(ge=0)
        parent_link: str
        """The parent's chain link at ``fork_point``: what the shared prefix must verify to."""
        system_position: int | None = None
        """The position of the system prompt in force at the fork point."""
        changes: int = Field(default=0, ge=0)
        """The parent's memory changes numbered up to this one (all it had when forked) apply
        to the branch's prefix too."""
        link: str
        """The branch's first link, over the parent's id, the fork point and ``parent_link``:
        its own messages chain on from it."""

        def expected_link(self) -> str:
            """The link this event should carry: over every field a branch's views depend on."""
            return fork_link(
                self.originator_id,
                self.parent,
                self.fork_point,
                self.parent_link,
                self.timestamp,
                system_position=self.system_position,
                changes=self.changes,
            )

    class Branched(DomainEvent):
        """A branch of a conversation tree was made: stored in the tree's stream
        (``tree_stream_id`` of its root), which lists every branch of the tree in creation
        order."""

        root: str
        branch: str
        parent: str
        fork_point: int = Field(ge=0)

    class MessageRecorded(DomainEvent):
        """One message was recorded, with its token count and the counter that made it."""

        message: Message
        tokens: int = Field(ge=0)
        counter: str
        system_position: int | None = None
        """The position of the system prompt in force once this message was recorded."""
        digest: str
        """sha256 of the message's canonical JSON: lets the chain outlive the message's text."""
        chain: str
        """sha256 of the previous link and this event's fields: tamper evidence."""
        erased: bool = False
        """Set when read back after the conversation was erased; never stored."""

        @property
        def position(self) -> int:
            """The message's 1-based place in its conversation."""
            return self.originator_version - STARTED_VERSION

        def link(self, previous: str) -> str:
            """The chain link this event should carry, given the previous link."""
            return chain_link(
                previous,
                position=self.position,
                timestamp=self.timestamp,
                role=self.message.role,
                digest=self.digest,
                tokens=self.tokens,
                counter=self.counter,
                system_position=self.system_position,
            )

    class Erased(DomainEvent):
        """The conversation was erased: the last event of its stream, after its last message.

        Stored in the conversation's own stream, so a writer that did not hear of it clashes
        with it on the version and learns of it then; a reader sees it on the newest row.
        The event carries no text and no reason (the governance stream keeps the reason).
        """

        chain: str
        """The chain's link over the previous one and this event: the trail ends here."""

        @property
        def position(self) -> int:
            """The position after the last message: where recording stopped."""
            return self.originator_version - STARTED_VERSION

        def link(self, previous: str) -> str:
            """The chain link this event should carry, given the previous link."""
            return erasure_link(previous, position=self.position, timestamp=self.timestamp)

    class SummaryRecorded(DomainEvent):
        """A summary standing for messages 1..``covers`` was recorded: summary #``number``.

        Stored in the conversation's summary stream (``summary_stream_id``), never in its own,
        so message positions keep their versions; see ``chatledger.domain.summaries``.
        """

        conversation_id: str
        covers: int = Field(ge=1)
        """The last position the summary stands for: it covers messages 1..covers."""
        position: int = Field(ge=1)
        """The history's length when it was recorded: views at earlier positions ignore it."""
        text: str
        model: str | None = None
        """The model that wrote the summary, when it is known."""
        tokens: int = Field(ge=0)
        """What the summary costs in a request, rendered as ``SummaryWindow`` renders it by
        default, counted by ``counter`` when it was recorded."""
        counter: str
        digest: str
        """HMAC-SHA256 of the text under the conversation's digest key: outlives the text."""
        anchor: str
        """The conversation's chain link at ``covers``: ties the summary to those messages."""
        chain: str
        """sha256 of the previous summary's link and this event's fields: tamper evidence."""
        erased: bool = False
        """Set when read back after the conversation was erased; never stored."""

        @property
        def number(self) -> int:
            """The summary's 1-based number within its conversation."""
            return self.originator_version

        def link(self, previous: str) -> str:
            """The chain link this event should carry, given the previous summary's link."""
            return summary_link(
                previous,
                number=self.number,
                timestamp=self.timestamp,
                covers=self.covers,
                position=self.position,
                digest=self.digest,
                tokens=self.tokens,
                counter=self.counter,
                model=self.model,
                anchor=self.anchor,
            )

    class _MemoryChange(DomainEvent):
        """What a clear and a retraction share: where they were recorded, and their link.

        Both are stored in the conversation's memory stream (``memory_stream_id``), never in
        its own, as summaries are and for the same reasons (``chatledger.domain.memory_changes``).
        """

        kind: ClassVar[str]
        conversation_id: str
        position: int = Field(ge=1)
        """The history's length when it was recorded."""
        anchor: str
        """The conversation's chain link at ``position``: ties the change to that history."""
        chain: str
        """sha256 of the previous change's link and this event's fields: tamper evidence."""

        @property
        def number(self) -> int:
            """The change's 1-based number within its conversation."""
            return self.originator_version

        def fields(self) -> list[int]:
            """The event's own fields its link covers, beside the shared ones."""
            raise NotImplementedError

        def link(self, previous: str) -> str:
            """The chain link this event should carry, given the previous change's link."""
            return memory_link(
                previous, self.kind, self.number, self.timestamp, self.fields(), self.anchor
            )

    class MemoryCleared(_MemoryChange):
        """Memory was cleared: later views hold the system prompt and what came after, only;
        messages 1..``position`` are cleared."""

        kind: ClassVar[str] = "cleared"
        summaries: int = Field(default=0, ge=0)
        """The newest summary then: summaries numbered up to it stand for cleared messages."""

        def fields(self) -> list[int]:
            """The position and the newest summary."""
            return [self.position, self.summaries]

    class Retracted(_MemoryChange):
        """The unit holding the message at ``target`` was taken out of every later view."""

        kind: ClassVar[str] = "retracted"
        target: int = Field(ge=1)
        """The retracted message's position; the tool exchange holding it goes as a whole."""

        def fields(self) -> list[int]:
            """The position and the target."""
            return [self.position, self.target]

    class Snapshot(DomainEvent):
        """The lean state of a conversation at a version, so loading never replays it all."""

        topic: str
        state: dict[str, Any]

        @classmethod
        def take(cls, aggregate: Conversation) -> Conversation.Snapshot:
            """Snapshot the given conversation state."""
            return cls(
                originator_id=aggregate.id,
                originator_version=aggregate.version,
                topic="chatledger:Conversation",
                state=aggregate.model_dump(mode="json", exclude=_unstored(aggregate)),
            )

    @property
    def message_count(self) -> int:
        """How many messages have been recorded."""
        return self.version - STARTED_VERSION

    @staticmethod
    def start(conversation_id: str, *, digests: int = KEYED) -> Conversation.Started:
        """The event that begins a conversation, its messages digested under ``digests``."""
        return Conversation.Started(
            originator_id=conversation_id, originator_version=STARTED_VERSION, digests=digests
        )

    @property
    def erased(self) -> bool:
        """Whether the conversation was erased."""
        return self.erased_at is not None

    def erase(self) -> Conversation.Erased:
        """The event that ends the conversation's stream: nothing is recorded after it."""
        if self.erased_at is not None:
            raise ConversationErased(self.id, self.erased_at)
        timestamp = utc_now()
        position = self.version + 1 - STARTED_VERSION
        return Conversation.Erased(
            originator_id=self.id,
            originator_version=self.version + 1,
            timestamp=timestamp,
            chain=erasure_link(
                self.head or genesis(self.id), position=position, timestamp=timestamp
            ),
        )

    def repeats_prompt(self, message: Message, prompt: Message | None) -> bool:
        """Whether ``message`` is an instruction (system or developer) repeating the current one.

        ``prompt`` is the current system prompt's message, which a conversation of the keyed
        scheme keeps no trace of in its state (a digest of it would confirm a guess of the
        text after erasure); one of the plain scheme compares its stored digest.
        """
        if not message.is_instruction or self.system_position is None:
            return False
        if prompt is not None:
            return (prompt.role, prompt.content) == (message.role, message.content)
        return self.system_digest == _instruction_digest(self.id, message)

    def record(
        self,
        message: Message,
        *,
        tokens: int,
        counter: str,
        digest: str | None = None,
        prompt: Message | None = None,
    ) -> Conversation.MessageRecorded | None:
        """The event recording ``message``, or None when it changes nothing.

        A system message whose content equals the current system prompt (``prompt``, the
        prompt's message) changes nothing. ``digest`` is the message's digest under the
        conversation's scheme; without it, the plain sha256. Raises ConversationErased once
        the conversation was erased.
        """
        if self.erased_at is not None:
            raise ConversationErased(self.id, self.erased_at)
        if self.repeats_prompt(message, prompt):
            return None
        return self.restore(
            message,
            timestamp=utc_now(),
            tokens=tokens,
            counter=counter,
            digest=digest or message.digest(),
        )

    def restore(
        self,
        message: Message,
        *,
        timestamp: datetime,
        tokens: int,
        counter: str,
        digest: str,
    ) -> Conversation.MessageRecorded:
        """The event of ``message`` as recorded at ``timestamp``, with its count and digest.

        What ``record`` makes, and what a restore makes of an exported line: its time, count
        and digest are the exported ones, so its chain link is the one the source computed
        (compare the two to know the line is unchanged). Unlike ``record``, it never skips a
        repeated system prompt: the source recorded it.
        """
        if self.erased_at is not None:
            raise ConversationErased(self.id, self.erased_at)
        position = self.message_count + 1
        system_position = position if message.is_instruction else self.system_position
        return Conversation.MessageRecorded(
            originator_id=self.id,
            originator_version=self.version + 1,
            timestamp=timestamp,
            message=message,
            tokens=tokens,
            counter=counter,
            system_position=system_position,
            digest=digest,
            chain=chain_link(
                self.head or genesis(self.id),
                position=position,
                timestamp=timestamp,
                role=message.role,
                digest=digest,
                tokens=tokens,
                counter=counter,
                system_position=system_position,
            ),
        )

    @staticmethod
    def fork(
        conversation_id: str,
        *,
        parent: str,
        fork_point: int,
        parent_link: str,
        system_position: int | None,
        changes: int,
    ) -> Conversation.Forked:
        """The event that begins ``conversation_id`` as a branch of ``parent`` at ``fork_point``."""
        event = Conversation.Forked(
            originator_id=conversation_id,
            originator_version=STARTED_VERSION,
            parent=parent,
            fork_point=fork_point,
            parent_link=parent_link,
            system_position=system_position,
            changes=changes,
            link="",
        )
        return event.model_copy(update={"link": event.expected_link()})

    def apply(self, event: DomainEvent) -> Conversation:
        """The state after ``event``."""
        if isinstance(event, Conversation.MessageRecorded):
            changes: dict[str, Any] = {"version": event.originator_version}
            changes["modified_on"] = event.timestamp
            changes["head"] = event.chain
            if event.message.is_instruction:
                changes["system_position"] = event.position
                if self.digests == PLAIN:
                    changes["system_digest"] = _instruction_digest(self.id, event.message)
            return self.model_copy(update=changes)
        if isinstance(event, Conversation.Erased):
            return self.model_copy(
                update={
                    "version": event.originator_version,
                    "modified_on": event.timestamp,
                    "head": event.chain,
                    "erased_at": event.timestamp,
                }
            )
        raise TypeError(f"{type(event).__name__} does not apply to a started conversation")


def _unstored(state: Conversation) -> set[str]:
    # A conversation begun afresh snapshots as it did before branches: without their fields.
    return {"id", "version"} | (set() if state.parent is not None else {"parent", "fork_point"})


def project_conversation(
    state: Conversation | None, events: Iterable[DomainEvent]
) -> Conversation | None:
    """Evolve a conversation's state through ``events`` (the repository's projector)."""
    for event in events:
        if isinstance(event, Conversation.Started):
            state = Conversation(
                id=event.originator_id,
                version=event.originator_version,
                created_on=event.timestamp,
                modified_on=event.timestamp,
                digests=event.digests,
            )
        elif isinstance(event, Conversation.Forked):
            state = Conversation(
                id=event.originator_id,
                version=STARTED_VERSION + event.fork_point,
                created_on=event.timestamp,
                modified_on=event.timestamp,
                digests=event.digests,
                system_position=event.system_position,
                head=event.link,
                parent=event.parent,
                fork_point=event.fork_point,
            )
        elif isinstance(event, Conversation.Snapshot):
            state = Conversation(
                id=event.originator_id, version=event.originator_version, **event.state
            )
        elif state is None:
            raise TypeError(f"{type(event).__name__} cannot begin a conversation")
        else:
            state = state.apply(event)
    return state


class MessageKey(BaseModel):
    """A claim on one message id within one conversation: what makes recording idempotent.

    Its single event is saved atomically with the message it claims; a second claim on the
    same id is a version clash in the event store, however long after the first.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    version: int
    created_on: datetime
    modified_on: datetime
    position: int
    digest: str

    class Claimed(DomainEvent):
        """A message id was used for the message at ``position``, whose digest is ``digest``."""

        position: int
        digest: str

    @staticmethod
    def id_for(conversation_id: str, message_id: str) -> str:
        """The claim's stream id; '/' never occurs in a conversation id, so none collide."""
        hashed = hashlib.sha256(f"{conversation_id}\n{message_id}".encode()).hexdigest()
        return f"key/{hashed}"

    @staticmethod
    def claim(
        conversation_id: str,
        message: Message,
        position: int,
        *,
        digest: str | None = None,
        stream_id: str | None = None,
    ) -> MessageKey.Claimed:
        """The event claiming ``message.id`` for the message at ``position``.

        ``digest`` is the message's digest when the caller has it already (it is not cheap);
        ``stream_id`` the claim's stream under a keyed scheme (else ``id_for``'s).
        """
        return MessageKey.Claimed(
            originator_id=stream_id or MessageKey.id_for(conversation_id, message.id),
            originator_version=1,
            position=position,
            digest=digest or message.digest(),
        )


def project_message_key(
    state: MessageKey | None, events: Iterable[DomainEvent]
) -> MessageKey | None:
    """Build a message-id claim from its event (the repository's projector)."""
    for event in events:
        if isinstance(event, MessageKey.Claimed):
            state = MessageKey(
                id=event.originator_id,
                version=event.originator_version,
                created_on=event.timestamp,
                modified_on=event.timestamp,
                position=event.position,
                digest=event.digest,
            )
    return state


def genesis(conversation_id: str) -> str:
    """The link before a conversation's first message."""
    return hashlib.sha256(f"chatledger\n{conversation_id}".encode()).hexdigest()


def chain_link(
    previous: str,
    *,
    position: int,
    timestamp: datetime,
    role: str,
    digest: str,
    tokens: int,
    counter: str,
    system_position: int | None,
) -> str:
    """sha256 over the previous link and a message event's fields, in a fixed canonical form."""
    micros = (timestamp - _EPOCH) // timedelta(microseconds=1)
    fields = json.dumps(
        [previous, position, micros, role, digest, tokens, counter, system_position],
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(fields.encode("utf-8")).hexdigest()


def summary_stream_id(conversation_id: str) -> str:
    """The stream of a conversation's summaries; '/' never occurs in a conversation id."""
    return f"summaries/{conversation_id}"


def summary_genesis(conversation_id: str) -> str:
    """The link before a conversation's first summary."""
    return hashlib.sha256(f"chatledger summaries\n{conversation_id}".encode()).hexdigest()


def summary_link(
    previous: str,
    *,
    number: int,
    timestamp: datetime,
    covers: int,
    position: int,
    digest: str,
    tokens: int,
    counter: str,
    model: str | None,
    anchor: str,
) -> str:
    """sha256 over the previous summary's link and a summary event's fields, canonically."""
    micros = (timestamp - _EPOCH) // timedelta(microseconds=1)
    values = [previous, number, micros, covers, position, digest, tokens, counter, model, anchor]
    fields = json.dumps(
        ["summary", *values],
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(fields.encode("utf-8")).hexdigest()


def memory_stream_id(conversation_id: str) -> str:
    """The stream of a conversation's memory changes; '/' never occurs in a conversation id."""
    return f"memory/{conversation_id}"


def memory_genesis(conversation_id: str) -> str:
    """The link before a conversation's first memory change."""
    return hashlib.sha256(f"chatledger memory\n{conversation_id}".encode()).hexdigest()


def memory_link(
    previous: str,
    kind: str,
    number: int,
    timestamp: datetime,
    fields: list[int],
    anchor: str,
) -> str:
    """sha256 over the previous change's link and a memory change's fields, canonically."""
    micros = (timestamp - _EPOCH) // timedelta(microseconds=1)
    values = json.dumps(
        [kind, previous, number, micros, *fields, anchor], separators=(",", ":"), ensure_ascii=False
    )
    return hashlib.sha256(values.encode("utf-8")).hexdigest()


def tree_stream_id(root: str) -> str:
    """The stream listing the branches of the tree ``root`` began; '/' never occurs in an id."""
    return f"tree/{root}"


def fork_link(
    conversation_id: str,
    parent: str,
    fork_point: int,
    parent_link: str,
    timestamp: datetime,
    *,
    system_position: int | None,
    changes: int,
) -> str:
    """sha256 over a branch's id, its parent, the fork point, the parent's link there, and what
    it takes from the parent beside (the prompt's position, the memory changes it inherits)."""
    micros = (timestamp - _EPOCH) // timedelta(microseconds=1)
    values = [conversation_id, parent, fork_point, parent_link, micros, system_position, changes]
    fields = json.dumps(
        ["fork", *values],
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(fields.encode("utf-8")).hexdigest()


def erasure_link(previous: str, *, position: int, timestamp: datetime) -> str:
    """sha256 over the previous link and an erasure's place and time: the chain's last link."""
    micros = (timestamp - _EPOCH) // timedelta(microseconds=1)
    fields = json.dumps(["erased", previous, position, micros], separators=(",", ":"))
    return hashlib.sha256(fields.encode("utf-8")).hexdigest()


def _instruction_digest(conversation_id: str, message: Message) -> str:
    # A system prompt of text digests as it always did; others say their role and form too.
    text = message.text_form()
    if message.role != "system" or isinstance(message.content, tuple):
        text = f"{message.role}\n{text}"
    return _text_digest(conversation_id, text)


def _text_digest(conversation_id: str, text: str | None) -> str:
    # Salted with the conversation id, so equal prompts in two conversations hash apart.
    body = "" if text is None else "t" + text
    return hashlib.sha256(f"{conversation_id}\n{body}".encode()).hexdigest()
