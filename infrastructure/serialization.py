"""Our own glue between pydantic events and the eventsourcing library's stored events."""

from __future__ import annotations

import json
from typing import Any, cast

from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import Mapper, MapperDeserialisationError, StoredEvent
from eventsourcing.utils import get_topic, resolve_topic
from pydantic import BaseModel, ValidationError


class PydanticMapper(Mapper[str]):
    """Stores events as compact JSON of their pydantic fields; upcasts old class versions."""

    def to_stored_event(self, domain_event: DomainEventProtocol[str]) -> StoredEvent:
        """Serialise one pydantic event."""
        event = cast(BaseModel, domain_event)
        data = event.model_dump(mode="json", exclude={"originator_id", "originator_version"})
        class_version: int = getattr(type(event), "class_version", 1)
        if class_version > 1:
            data["class_version"] = class_version
        state = json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        if self.compressor:
            state = self.compressor.compress(state)
        if self.cipher:
            state = self.cipher.encrypt(state)
        return StoredEvent(
            originator_id=domain_event.originator_id,
            originator_version=domain_event.originator_version,
            topic=get_topic(type(event)),
            state=state,
        )

    def to_domain_event(self, stored_event: StoredEvent) -> DomainEventProtocol[str]:
        """Deserialise one stored event, upcasting payloads written by older class versions."""
        cls = cast(type[BaseModel], resolve_topic(stored_event.topic))
        state = stored_event.state
        try:
            if self.cipher:
                state = self.cipher.decrypt(state)
            if self.compressor:
                state = self.compressor.decompress(state)
            data: dict[str, Any] = json.loads(state)
            version = data.pop("class_version", 1)
            while version < getattr(cls, "class_version", 1):
                getattr(cls, f"upcast_v{version}_v{version + 1}")(data)
                version += 1
            data["originator_id"] = str(stored_event.originator_id)
            data["originator_version"] = stored_event.originator_version
            return cast(DomainEventProtocol[str], cls.model_validate(data))
        except (ValueError, ValidationError) as exc:
            raise MapperDeserialisationError(
                f"cannot read stored event {stored_event.topic} of "
                f"{stored_event.originator_id!r} version {stored_event.originator_version}: {exc}"
            ) from exc
