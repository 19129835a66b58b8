"""The attachments contract: large binary parts stored apart, on memory://, SQLite, PostgreSQL."""

from __future__ import annotations

import base64
import hashlib
import os
import threading
from collections.abc import Sequence
from typing import Any

import pytest
from eventsourcing.persistence import StoredEvent

from chatledger.domain import (
    Attachment,
    ConversationErased,
    IdempotencyConflict,
    ImagePart,
    InvalidInput,
    InvalidMessage,
    Limits,
    Message,
    TextPart,
    UnknownAttachment,
    UnknownConversation,
)
from chatledger.infrastructure import ChatLedger
from chatledger.projections import MessageWindow
from tests.fakes import FakeTokenCounter

MIB = 1024 * 1024
IMAGE = os.urandom(MIB)
SMALL = os.urandom(1024)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def with_image(data: bytes = IMAGE, *, id: str | None = None, text: str = "What is it?") -> Message:
    content = (TextPart(text=text), ImagePart(data=b64(data), media_type="image/png"))
    if id is None:
        return Message(role="user", content=content)
    return Message(id=id, role="user", content=content)


def image_of(message: Message) -> ImagePart:
    part = message.parts[1]
    assert isinstance(part, ImagePart)
    return part


def stored_sizes(ledger: ChatLedger, conversation_id: str) -> list[int]:
    return ledger.application.attachments.sizes(conversation_id)


def test_a_large_image_is_stored_as_a_reference_to_its_bytes(ledger: ChatLedger) -> None:
    ledger.record("conv-1", with_image())

    part = image_of(ledger.history("conv-1").messages[0])

    assert part.data is None
    assert part.attachment == Attachment(digest=digest(IMAGE), media_type="image/png", size=MIB)


def test_a_small_image_stays_inline_in_its_message(ledger: ChatLedger) -> None:
    ledger.record("conv-1", with_image(SMALL))

    part = image_of(ledger.history("conv-1").messages[0])

    assert (part.data, part.attachment) == (b64(SMALL), None)
    assert stored_sizes(ledger, "conv-1") == []


def test_an_attachment_is_read_back_by_its_digest(ledger: ChatLedger) -> None:
    ledger.record("conv-1", with_image())

    assert ledger.attachment("conv-1", digest(IMAGE)) == IMAGE


def test_the_same_image_sent_twice_is_stored_once(ledger: ChatLedger) -> None:
    ledger.record("conv-1", with_image(text="first"))
    ledger.record("conv-1", [with_image(text="second"), with_image(text="third")])

    assert ledger.version("conv-1") == 3
    assert len(stored_sizes(ledger, "conv-1")) == 1


def test_each_conversation_stores_its_own_copy_of_an_image(ledger: ChatLedger) -> None:
    ledger.record("conv-1", with_image())
    ledger.record("conv-2", with_image())

    assert (len(stored_sizes(ledger, "conv-1")), len(stored_sizes(ledger, "conv-2"))) == (1, 1)
    assert ledger.attachment("conv-2", digest(IMAGE)) == IMAGE


def test_the_stored_attachment_is_sealed_not_the_bytes_themselves(ledger: ChatLedger) -> None:
    ledger.record("conv-1", with_image())
    store = ledger.application.attachments
    (attachment_id,) = store.present("conv-1", [_row_id(ledger, "conv-1", digest(IMAGE))])

    row = store.read("conv-1", attachment_id)

    assert row is not None
    assert IMAGE[:4096] not in row.sealed
    assert attachment_id != digest(IMAGE)


def _row_id(ledger: ChatLedger, conversation_id: str, sha256: str) -> str:
    return ledger.application.sealer.attachment_id(conversation_id, sha256, create=False)


def test_retrying_an_inline_message_returns_its_first_entry_and_stores_nothing(
    ledger: ChatLedger,
) -> None:
    message = with_image(id="m-image")
    first = ledger.record_outcome("conv-1", [with_image(SMALL, id="m-before"), message])

    again = ledger.record_outcome("conv-1", message)

    assert [e.position for e in again.entries] == [first.entries[1].position] == [2]
    assert (first.stored, again.stored) == (True, False)
    assert ledger.version("conv-1") == 2


def test_recording_the_stored_form_again_is_a_retry_of_the_inline_message(
    ledger: ChatLedger,
) -> None:
    original = ledger.record("conv-1", with_image(id="m-image"))

    again = ledger.record("conv-1", ledger.history("conv-1").messages[0])

    assert again == original
    assert ledger.version("conv-1") == 1


def test_the_same_id_with_another_image_is_an_idempotency_conflict(ledger: ChatLedger) -> None:
    ledger.record("conv-1", with_image(id="m-image"))

    with pytest.raises(IdempotencyConflict):
        ledger.record("conv-1", with_image(os.urandom(MIB), id="m-image"))

    assert len(stored_sizes(ledger, "conv-1")) == 1


def test_a_failed_record_leaves_no_attachment_behind(ledger: ChatLedger) -> None:
    ledger.record("conv-1", Message(id="m-1", role="user", content="hi"))
    other = os.urandom(MIB)

    with pytest.raises(IdempotencyConflict):
        ledger.record(
            "conv-1", [with_image(other), Message(id="m-1", role="user", content="changed")]
        )

    assert stored_sizes(ledger, "conv-1") == []
    with pytest.raises(UnknownAttachment):
        ledger.attachment("conv-1", digest(other))


def test_a_reference_to_bytes_the_conversation_does_not_hold_is_refused(
    ledger: ChatLedger,
) -> None:
    ledger.record("conv-1", with_image())
    stored = ledger.history("conv-1").messages[0]

    with pytest.raises(InvalidMessage) as raised:
        ledger.record("conv-2", stored)

    assert raised.value.field == "content.1.attachment"
    assert "send the part's data inline" in raised.value.problem
    assert (ledger.version("conv-2"), ledger.conversation("conv-2")) == (0, None)


def test_a_reference_with_another_size_than_the_stored_bytes_is_refused(
    ledger: ChatLedger,
) -> None:
    ledger.record("conv-1", with_image())
    stored = ledger.history("conv-1").messages[0]
    part = image_of(stored)
    assert part.attachment is not None
    wrong = part.model_copy(
        update={"attachment": part.attachment.model_copy(update={"size": MIB - 1})}
    )

    with pytest.raises(InvalidMessage) as raised:
        ledger.record("conv-1", Message(role="user", content=(wrong,)))

    assert raised.value.field == "content.0.attachment"
    assert ledger.version("conv-1") == 1


def test_an_image_over_the_size_limit_is_refused_naming_its_part_and_nothing_is_written(
    backend_url: str,
) -> None:
    limits = Limits(max_attachment_bytes=MIB - 1)
    with ChatLedger.open(backend_url, FakeTokenCounter(), limits=limits) as ledger:
        with pytest.raises(InvalidMessage) as raised:
            ledger.record("conv-1", with_image())

        assert raised.value.field == "content.1.data"
        assert "max_attachment_bytes" in raised.value.problem
        assert (ledger.version("conv-1"), ledger.conversation("conv-1")) == (0, None)


def test_the_threshold_is_configurable(backend_url: str) -> None:
    limits = Limits(attachment_threshold_bytes=2 * MIB)
    with ChatLedger.open(backend_url, FakeTokenCounter(), limits=limits) as ledger:
        ledger.record("conv-1", with_image())

        assert image_of(ledger.history("conv-1").messages[0]).data == b64(IMAGE)
        assert stored_sizes(ledger, "conv-1") == []


def test_the_chain_of_a_conversation_with_attachments_verifies(ledger: ChatLedger) -> None:
    ledger.record("conv-1", [with_image(), with_image(SMALL), with_image(os.urandom(40_000))])

    assert ledger.verify("conv-1").intact


def test_history_can_put_the_bytes_back_inline(ledger: ChatLedger) -> None:
    message = with_image()
    ledger.record("conv-1", message)

    assert ledger.history("conv-1", inline_attachments=True).messages == (message,)


def test_memory_puts_the_bytes_back_inline_unless_asked_not_to(ledger: ChatLedger) -> None:
    message = with_image()
    ledger.record("conv-1", message)

    inlined = ledger.memory("conv-1", MessageWindow(max_messages=5))
    referenced = ledger.memory("conv-1", MessageWindow(max_messages=5), inline_attachments=False)

    assert inlined.messages == (message,)
    assert image_of(referenced.messages[0]).data is None


def test_the_resolver_gives_an_attachment_as_base64_text(ledger: ChatLedger) -> None:
    ledger.record("conv-1", with_image())

    resolve = ledger.attachment_resolver("conv-1")

    assert resolve(digest(IMAGE)) == b64(IMAGE)


def test_tokens_are_counted_on_the_message_as_sent_with_its_data_inline(
    backend_url: str,
) -> None:
    seen: list[Message] = []

    class Recorder(FakeTokenCounter):
        def count(self, message: Message) -> int:
            seen.append(message)
            return super().count(message)

    with ChatLedger.open(backend_url, Recorder()) as ledger:
        ledger.record("conv-1", with_image())

    assert image_of(seen[0]).data == b64(IMAGE)


def test_a_model_call_shown_inlined_attachments_replays_identical(ledger: ChatLedger) -> None:
    ledger.record("conv-1", [with_image(), Message(role="assistant", content="a cat")])
    view = ledger.memory("conv-1", MessageWindow(max_messages=5))

    call = ledger.record_model_call("conv-1", view, model="gpt-4o")

    assert ledger.replay_model_call("conv-1", call).identical


def test_an_unknown_digest_is_an_unknown_attachment(ledger: ChatLedger) -> None:
    ledger.record("conv-1", with_image())

    with pytest.raises(UnknownAttachment) as raised:
        ledger.attachment("conv-1", digest(b"never sent"))

    assert raised.value.digest == digest(b"never sent")


def test_an_attachment_of_an_unknown_conversation_is_an_unknown_conversation(
    ledger: ChatLedger,
) -> None:
    with pytest.raises(UnknownConversation):
        ledger.attachment("nobody", digest(IMAGE))


def test_a_malformed_digest_is_refused_naming_it(ledger: ChatLedger) -> None:
    ledger.record("conv-1", with_image())

    with pytest.raises(InvalidInput) as raised:
        ledger.attachment("conv-1", digest(IMAGE).upper())

    assert raised.value.field == "digest"


def test_inline_attachments_must_be_a_bool(ledger: ChatLedger) -> None:
    with pytest.raises(InvalidInput) as raised:
        ledger.history("conv-1", inline_attachments="yes")  # type: ignore[arg-type]  # on purpose

    assert raised.value.field == "inline_attachments"


def test_erasure_makes_attachments_unreadable_and_deletes_them(ledger: ChatLedger) -> None:
    ledger.record("conv-1", with_image())
    ledger.record("conv-2", with_image())

    ledger.erase("conv-1", reason="subject request")

    with pytest.raises(ConversationErased):
        ledger.attachment("conv-1", digest(IMAGE))
    assert stored_sizes(ledger, "conv-1") == []
    assert ledger.attachment("conv-2", digest(IMAGE)) == IMAGE


def test_writers_sending_the_same_image_at_once_store_it_once_and_lose_no_message(
    backend_url: str,
) -> None:
    writers = 4
    failures: list[BaseException] = []
    with ChatLedger.open(backend_url, FakeTokenCounter()) as ledger:
        ledger.record("conv-1", Message(role="user", content="start"))

        def write(writer: int) -> None:
            try:
                ledger.record("conv-1", [with_image(text=f"{writer}-{i}") for i in range(3)])
            except BaseException as exc:  # re-raised below, in the test's thread
                failures.append(exc)

        threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        assert failures == []
        assert ledger.version("conv-1") == 1 + 3 * writers
        assert len(stored_sizes(ledger, "conv-1")) == 1


def test_a_history_page_of_a_conversation_with_a_large_image_reads_small_rows(
    ledger: ChatLedger, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger.record("conv-1", [with_image(), Message(role="assistant", content="a cat")])
    recorder = ledger.application.recorder
    select = recorder.select_events
    read: list[int] = []

    def counted(*args: Any, **kwargs: Any) -> Sequence[StoredEvent]:
        rows = select(*args, **kwargs)
        read.extend(len(row.state) for row in rows)
        return rows

    def refused(*args: Any) -> None:
        raise AssertionError("a history page read an attachment")

    monkeypatch.setattr(recorder, "select_events", counted)
    monkeypatch.setattr(ledger.application.attachments, "read", refused)
    page = ledger.history("conv-1", limit=50)

    assert len(page) == 2
    assert read, "the page must read rows"
    assert sum(read) < 4096, read
    assert stored_sizes(ledger, "conv-1")[0] > MIB
