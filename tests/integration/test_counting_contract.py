"""Counting on every backend: o200k_base for new ledgers, old counts kept, none for readers."""

from __future__ import annotations

import base64
import io
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from chatledger.domain import EncodingUnavailable, ImagePart, Message
from chatledger.infrastructure import ChatLedger
from chatledger.infrastructure.tokens import DeferredCounter, TiktokenCounter
from chatledger.projections import MessageWindow, TokenWindow
from tests.without_encodings import run_python, site_view

READS: dict[str, Callable[[ChatLedger], Any]] = {
    "history": lambda ledger: ledger.history("trip"),
    "a history page": lambda ledger: ledger.history("trip", limit=1),
    "token memory": lambda ledger: ledger.memory("trip", TokenWindow(max_tokens=1000)),
    "memory at a position": lambda ledger: ledger.memory(
        "trip", MessageWindow(max_messages=5), at=1
    ),
    "verify": lambda ledger: ledger.verify("trip"),
    "verify all": lambda ledger: ledger.verify_all(),
    "export": lambda ledger: list(ledger.export("trip")),
    "conversations": lambda ledger: ledger.conversations(),
}


@pytest.fixture
def counted(backend_url: str) -> Iterator[ChatLedger]:
    """A ledger on each backend whose conversation 'trip' was counted with cl100k_base."""
    with ChatLedger.open(backend_url, token_counter=TiktokenCounter(model="gpt-4")) as ledger:
        ledger.record(
            "trip",
            [
                Message(role="user", content="Flights to Lisbon in June?"),
                Message(role="assistant", content="There are three a day from JFK."),
            ],
        )
        yield ledger


@pytest.fixture
def no_encoding_files(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No configured directory, no tiktoken cache: an empty directory to search instead."""
    monkeypatch.delenv("CHATLEDGER_TIKTOKEN_DIR", raising=False)
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", "")
    (tmp_path / "empty").mkdir()
    return tmp_path / "empty"


def unfindable(empty: Path) -> DeferredCounter:
    """A counter whose encoding can be found nowhere: not in ``empty``, not in any package."""
    return DeferredCounter(search_dirs=[empty], use_installed_package=False)


def test_a_new_ledger_counts_with_o200k_base(backend_url: str) -> None:
    with ChatLedger.open(backend_url) as ledger:
        entry = ledger.record("trip", Message(role="user", content="Hello"))

    assert entry.counter == "tiktoken:o200k_base"


def test_messages_counted_with_cl100k_base_keep_their_counts_under_the_new_default(
    counted: ChatLedger,
) -> None:
    before = [(entry.tokens, entry.counter) for entry in counted.history("trip")]
    reopened = ChatLedger(counted.application, DeferredCounter())

    reopened.record("trip", Message(role="user", content="And back in July?"))

    after = [(entry.tokens, entry.counter) for entry in reopened.history("trip")]
    assert after[:2] == before
    assert [counter for _, counter in before] == ["tiktoken:gpt-4/cl100k_base"] * 2


def test_a_message_recorded_after_the_default_changed_counts_with_o200k_base(
    counted: ChatLedger,
) -> None:
    reopened = ChatLedger(counted.application, DeferredCounter())

    entry = reopened.record("trip", Message(role="user", content="And back in July?"))

    expected = TiktokenCounter().count(Message(role="user", content="And back in July?"))
    assert (entry.tokens, entry.counter) == (expected, "tiktoken:o200k_base")


def test_a_memory_view_adds_the_counts_each_message_was_recorded_with(
    counted: ChatLedger,
) -> None:
    reopened = ChatLedger(counted.application, DeferredCounter())
    reopened.record("trip", Message(role="user", content="And back in July?"))

    view = reopened.memory("trip", TokenWindow(max_tokens=1000))

    stored = sum(entry.tokens for entry in reopened.history("trip"))
    assert view.tokens == stored + 3


def test_an_image_stored_apart_was_counted_from_its_bytes_before(backend_url: str) -> None:
    photo = io.BytesIO()  # noise does not compress: well over the attachment threshold
    Image.effect_noise((1024, 1024), 64).save(photo, format="PNG")
    data = base64.b64encode(photo.getvalue()).decode("ascii")
    message = Message(role="user", content=(ImagePart(data=data, media_type="image/png"),))

    with ChatLedger.open(backend_url) as ledger:
        entry = ledger.record("trip", message)
        (stored,) = ledger.history("trip")

    (part,) = stored.message.parts
    assert isinstance(part, ImagePart)
    assert part.attachment is not None
    assert entry.tokens == 3 + 1 + 765  # framing, role, and OpenAI's 1024 x 1024 at high


@pytest.mark.parametrize("read", READS.values(), ids=READS.keys())
def test_reading_needs_no_encoding_file(
    counted: ChatLedger, no_encoding_files: Path, read: Callable[[ChatLedger], Any]
) -> None:
    counter = unfindable(no_encoding_files)
    reader = ChatLedger(counted.application, counter)

    read(reader)

    assert not counter.loaded


def test_recording_without_an_encoding_file_raises_and_writes_nothing(
    counted: ChatLedger, no_encoding_files: Path
) -> None:
    reader = ChatLedger(counted.application, unfindable(no_encoding_files))

    with pytest.raises(EncodingUnavailable, match="pip install 'chatledger\\[encodings\\]'"):
        reader.record("trip", Message(role="user", content="One more?"))

    assert counted.version("trip") == 2


def test_a_default_ledger_reads_where_no_encoding_package_is_installed(
    tmp_path: Path, sqlite_url: str
) -> None:
    with ChatLedger.open(sqlite_url) as ledger:
        ledger.record("trip", Message(role="user", content="Flights to Lisbon in June?"))
    view = site_view(tmp_path / "site")  # this venv's packages, without the encodings extra
    code = f"""
from chatledger import ChatLedger, TokenWindow
with ChatLedger.open({sqlite_url!r}) as ledger:
    ledger.history("trip")
    print(ledger.memory("trip", TokenWindow(max_tokens=1000)).tokens)
    ledger.verify("trip")
    list(ledger.export("trip"))
"""

    done = run_python(view, code, cwd=tmp_path)

    assert done.returncode == 0, done.stderr
    assert int(done.stdout) > 3
