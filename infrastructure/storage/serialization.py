"""Our own glue between pydantic events and the eventsourcing library's stored events."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar, cast

from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import Mapper, MapperDeserialisationError, StoredEvent
from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic_core import from_json, to_json

from chatledger.domain import Conversation, Message, ToolCall, UnreadableEvent, erased_message
from chatledger.infrastructure.storage.keys import ConversationErased
from chatledger.infrastructure.storage.sealing import SealBroken, Sealer
from chatledger.infrastructure.storage.topics import event_type, topic_of, topics_naming
from chatledger.projections import HistoryEntry

_RECORDED_TOPICS = topics_naming(Conversation.MessageRecorded)
_ENTRIES = TypeAdapter(list[HistoryEntry])


class PydanticMapper(Mapper[str]):
    """Stores events as compact JSON of their pydantic fields; upcasts old class versions.

    With a sealer, a recorded message is stored encrypted under its conversation's key, its
    role alone in the clear; once that key is destroyed the message reads as erased.
    """

    sealer: Sealer | None = None

    def to_stored_event(self, domain_event: DomainEventProtocol[str]) -> StoredEvent:
        """Serialise one pydantic event."""
        event = cast(BaseModel, domain_event)
        recorded = isinstance(event, Conversation.MessageRecorded)
        data = event.model_dump(
            mode="json",
            exclude={"originator_id", "originator_version", "erased", "message"}
            if recorded
            else {"originator_id", "originator_version", "erased"},
        )
        if recorded:
            # The message's stored form: a message of plain text is stored as it always was.
            data["message"] = cast(Conversation.MessageRecorded, event).message.stored_form()
        if self.sealer is not None and isinstance(event, Conversation.MessageRecorded):
            data["message"] = {
                "role": event.message.role,
                "sealed": self.sealer.seal(
                    event.originator_id, event.originator_version, to_json(data["message"])
                ),
            }
        if self.sealer is not None and isinstance(event, Conversation.SummaryRecorded):
            # A summary's text is sealed as a message's is, bound to its own stream's version.
            data["text"] = {
                "sealed": self.sealer.seal(
                    event.conversation_id,
                    event.originator_version,
                    event.text.encode("utf-8"),
                    stream=event.originator_id,
                )
            }
        class_version: int = getattr(type(event), "class_version", 1)
        if class_version > 1:
            data["class_version"] = class_version
        # Compact UTF-8 JSON, as json.dumps(separators=(",", ":"), ensure_ascii=False) wrote
        # it before (old rows read the same), and measured cheaper.
        state = to_json(data)
        if self.compressor:
            state = self.compressor.compress(state)
        if self.cipher:
            state = self.cipher.encrypt(state)
        return StoredEvent(
            originator_id=domain_event.originator_id,
            originator_version=domain_event.originator_version,
            topic=topic_of(type(event)),
            state=state,
        )

    def to_domain_event(self, stored_event: StoredEvent) -> DomainEventProtocol[str]:
        """Deserialise one stored event, upcasting payloads written by older class versions."""
        cls = cast(type[BaseModel], event_type(stored_event.topic))
        state = stored_event.state
        try:
            if self.cipher:
                state = self.cipher.decrypt(state)
            if self.compressor:
                state = self.compressor.decompress(state)
            data: dict[str, Any] = from_json(state)
            version = data.pop("class_version", 1)
            while version < getattr(cls, "class_version", 1):
                getattr(cls, f"upcast_v{version}_v{version + 1}")(data)
                version += 1
            data["originator_id"] = str(stored_event.originator_id)
            data["originator_version"] = stored_event.originator_version
            message = data.get("message")
            if isinstance(message, dict) and "sealed" in message:
                self._unseal(data, message)
            text = data.get("text")
            if isinstance(text, dict) and "sealed" in text:
                self._unseal_summary(data, text["sealed"])
            return cast(DomainEventProtocol[str], cls.model_validate(data))
        except (ValueError, ValidationError, KeyError) as exc:
            raise _unreadable(stored_event, exc) from exc

    def to_history_entries(self, stored_events: Sequence[StoredEvent]) -> list[HistoryEntry]:
        """Stored events of one conversation as history entries, skipping non-messages.

        The same as ``to_history_entry`` on each, with the conversation's key looked up once
        for them all, and the entries validated in one call rather than one call each.
        """
        if not stored_events:
            return []
        return self.history_reader(str(stored_events[0].originator_id))(stored_events)

    def history_reader(
        self, conversation_id: str
    ) -> Callable[[Sequence[StoredEvent]], list[HistoryEntry]]:
        """``to_history_entries`` for pages of one read, the conversation's key looked up once.

        Every page then opens under the key the read began with: an erasure that lands
        between two pages cannot leave one view half readable, half erased.
        """
        opener = self.opener(conversation_id)
        return lambda stored_events: self._entries(stored_events, conversation_id, opener)

    def _entries(
        self,
        stored_events: Sequence[StoredEvent],
        conversation_id: str,
        opener: Callable[[int, str], bytes] | None,
    ) -> list[HistoryEntry]:
        rows: list[StoredEvent] = []
        items: list[HistoryEntry | dict[str, Any]] = []
        for stored_event in stored_events:
            mine = stored_event.originator_id == conversation_id
            try:
                item = self._history_item(stored_event, opener if mine else None)
            except Exception:
                # An earlier row that fails validation is the first error in the stream.
                self._validate_each(rows, items)
                raise
            if item is not None:
                rows.append(stored_event)
                items.append(item)
        try:
            return _ENTRIES.validate_python(items)
        except ValidationError as exc:
            # Name the row that failed, with the error it gives on its own.
            self._validate_each(rows, items)
            index = exc.errors()[0]["loc"][0]
            assert isinstance(index, int)  # the list's errors are located by index first
            raise _unreadable(rows[index], exc) from exc

    def _validate_each(
        self, rows: Sequence[StoredEvent], items: Sequence[HistoryEntry | dict[str, Any]]
    ) -> None:
        for stored_event, item in zip(rows, items, strict=True):
            self._validated(stored_event, item)

    def opener(self, conversation_id: str) -> Callable[[int, str], bytes] | None:
        """The conversation's opener, for ``to_history_entry`` on many of its rows.

        None sends each message the per-message way.

        That way reports what a single opener cannot stand for: an erased conversation (each
        message then reads as erased) or sealed messages with no key.
        """
        if self.sealer is None:
            return None
        try:
            return self.sealer.opener(conversation_id)
        except (ConversationErased, SealBroken):
            return None

    def to_history_entry(
        self, stored_event: StoredEvent, opener: Callable[[int, str], bytes] | None = None
    ) -> HistoryEntry | None:
        """One stored event as a history entry (None if it records no message).

        ``opener``, from ``Sealer.opener`` for this event's conversation, saves looking its
        key up.
        """
        item = self._history_item(stored_event, opener)
        return None if item is None else self._validated(stored_event, item)

    def _history_item(
        self, stored_event: StoredEvent, opener: Callable[[int, str], bytes] | None
    ) -> HistoryEntry | dict[str, Any] | None:
        """What validates to the event's history entry: the entry itself, or its fields.

        History needs the message, its place, time and tokens; not the event around them
        (digest, chain links), so sealed rows of the current class version give the entry's
        fields straight away, measured cheaper than the whole event. Anything else goes the
        general way.
        """
        if self.cipher or self.compressor or stored_event.topic not in _RECORDED_TOPICS:
            event = self.to_domain_event(stored_event)
            return history_entry(event) if isinstance(event, Conversation.MessageRecorded) else None
        try:
            data: dict[str, Any] = from_json(stored_event.state)
            sealed = data["message"].get("sealed") if isinstance(data["message"], dict) else None
            if "class_version" in data or sealed is None:
                event = self.to_domain_event(stored_event)
                return history_entry(cast(Conversation.MessageRecorded, event))
            data["originator_id"] = str(stored_event.originator_id)
            data["originator_version"] = version = stored_event.originator_version
            self._unseal(data, data["message"], opener)
            return {
                "message": data["message"],
                "position": version - 1,
                "recorded_at": data["timestamp"],
                "tokens": data["tokens"],
                "counter": data["counter"],
                "erased": data.get("erased", False),
            }
        except MapperDeserialisationError:
            raise
        except (ValueError, KeyError) as exc:
            raise _unreadable(stored_event, exc) from exc

    def _validated(
        self, stored_event: StoredEvent, item: HistoryEntry | dict[str, Any]
    ) -> HistoryEntry:
        if isinstance(item, HistoryEntry):
            return item
        try:
            return HistoryEntry.model_validate(item)
        except ValidationError as exc:
            raise _unreadable(stored_event, exc) from exc

    def _unseal(
        self,
        data: dict[str, Any],
        message: dict[str, Any],
        opener: Callable[[int, str], bytes] | None = None,
    ) -> None:
        conversation_id, version = data["originator_id"], data["originator_version"]
        if self.sealer is None:
            raise UnreadableEvent(
                f"conversation {conversation_id!r} version {version} is sealed, but this mapper "
                "has no keys to open it",
                "read it through ChatLedger.open, which brings the store's keys",
            )
        try:
            plaintext = (
                self.sealer.open(conversation_id, version, message["sealed"])
                if opener is None
                else opener(version, message["sealed"])
            )
        except ConversationErased:
            data["message"] = erased_message(message["role"], version - 1)
            data["erased"] = True
        else:
            data["message"] = _opened_message(from_json(plaintext))

    def _unseal_summary(self, data: dict[str, Any], sealed: str) -> None:
        stream, version = data["originator_id"], data["originator_version"]
        if self.sealer is None:
            raise UnreadableEvent(
                f"summary {version} of {stream!r} is sealed, but this mapper has no keys to "
                "open it",
                "read it through ChatLedger.open, which brings the store's keys",
            )
        try:
            text = self.sealer.open(data["conversation_id"], version, sealed, stream=stream)
        except ConversationErased:
            data["text"], data["erased"] = "", True
        else:
            data["text"] = text.decode("utf-8")


def _unreadable(stored_event: StoredEvent, exc: Exception) -> MapperDeserialisationError:
    return MapperDeserialisationError(
        f"cannot read stored event {stored_event.topic} of "
        f"{stored_event.originator_id!r} version {stored_event.originator_version}: {exc}"
    )


def _opened_message(fields: Any) -> Message:
    """The message a sealed row opened to: its fields validated, its rules not run again.

    Only this store seals a message, and only once its rules passed: a row that opens under
    its conversation's key holds one they passed. The event or history entry that holds the
    message takes it as built.
    """
    if isinstance(fields, dict):
        calls = fields.get("tool_calls")
        if isinstance(calls, list) and calls:
            fields["tool_calls"] = [
                _fields_only(ToolCall, call) if isinstance(call, dict) else call for call in calls
            ]
    return _fields_only(Message, fields)


_Model = TypeVar("_Model", bound=BaseModel)


def _fields_only(model: type[_Model], fields: object) -> _Model:
    """``model`` built from ``fields`` by pydantic's validation alone, not by its own __init__.

    A message's rules run in its ``__init__`` (see ``chatledger.domain.messages``). This is
    the validation ``BaseModel.__init__`` runs, called directly: one Python call less a
    model, on reads that build one for every row.
    """
    built = model.__new__(model)
    model.__pydantic_validator__.validate_python(fields, self_instance=built)
    return built


def history_entry(event: Conversation.MessageRecorded) -> HistoryEntry:
    """The history entry of a message event."""
    return HistoryEntry(
        message=event.message,
        position=event.position,
        recorded_at=event.timestamp,
        tokens=event.tokens,
        counter=event.counter,
        erased=event.erased,
    )
