"""What storing images apart buys a history page, and what a large image costs to record.

``python -m tests.bench.attachments [--db postgresql://...]`` records, on memory://, a SQLite
file and (given ``--db``) a fresh PostgreSQL schema, a conversation of a few turns around one
image, twice: with the image stored as an attachment (the default), and inline in its event
(a threshold above its size). For each it prints the stored bytes a newest-50 history page
reads, the rows of the attachments table, and the median time of that page; then the median
time to record one message holding a new image of ``--image-bytes`` beside one of text only;
then what rendering costs: the memory view (the image read back and inlined) and each
provider's rendering of it. Figures go to stdout as Markdown tables; nothing is asserted.
"""

from __future__ import annotations

import argparse
import base64
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

from eventsourcing.persistence import StoredEvent

from chatledger import ChatLedger, ImagePart, Limits, Message, TextPart, TokenWindow
from chatledger.infrastructure import KeyEncryptionKey, LocalKeyEncryptionKey
from tests.fakes import FakeTokenCounter
from tests.postgres import fresh_schema

MIB = 1024 * 1024


def with_image(size: int, text: str) -> Message:
    """A user message of some text and a new image of ``size`` random bytes."""
    data = base64.b64encode(os.urandom(size)).decode("ascii")
    return Message(
        role="user", content=(TextPart(text=text), ImagePart(data=data, media_type="image/png"))
    )


def turns(size: int) -> list[Message]:
    """A short conversation whose second message holds the image."""
    return [
        Message(role="system", content="You describe pictures."),
        with_image(size, "What is in this picture?"),
        Message(role="assistant", content="A cat asleep on a keyboard."),
        Message(role="user", content="What colour is the cat?"),
        Message(role="assistant", content="Grey, with a white chest."),
    ]


def median_seconds(call: Callable[[], object], repeat: int) -> float:
    """The median wall time of ``repeat`` calls (one warm-up call first)."""
    call()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    times.sort()
    return times[len(times) // 2]


def page_bytes(ledger: ChatLedger, conversation_id: str) -> int:
    """The stored bytes of the rows a newest-50 history page reads."""
    recorder: Any = ledger.application.recorder
    select = recorder.select_events
    read: list[int] = []

    def counted(*args: Any, **kwargs: Any) -> Sequence[StoredEvent]:
        rows: Sequence[StoredEvent] = select(*args, **kwargs)
        read.extend(len(row.state) for row in rows)
        return rows

    recorder.select_events = counted
    try:
        ledger.history(conversation_id, limit=50)
    finally:
        del recorder.select_events
    return sum(read)


@contextmanager
def stores(db: str | None) -> Iterator[list[tuple[str, str]]]:
    """(name, URL) of a fresh store on each backend asked for."""
    with tempfile.TemporaryDirectory() as directory:
        urls = [("memory", "memory://"), ("sqlite", f"sqlite:///{Path(directory) / 'a.db'}")]
        if db is None:
            yield urls
            return
        with fresh_schema(db) as postgres:
            yield [*urls, ("postgresql", postgres)]


def measure(name: str, url: str, size: int, repeat: int, kek: KeyEncryptionKey) -> list[str]:
    """This backend's rows of the tables: the page, then the record costs."""
    page_rows = []
    inline = Limits(attachment_threshold_bytes=size + 1)
    for form, limits in (("attachment", Limits()), ("inline", inline)):
        with ChatLedger.open(url, FakeTokenCounter(), limits=limits, kek=kek) as ledger:
            conversation = f"page-{form}"
            ledger.record(conversation, turns(size))
            stored = ledger.application.attachments.sizes(conversation)
            seconds = median_seconds(partial(ledger.history, conversation, limit=50), repeat)
            page_rows.append(
                f"| {name} | {form} | {page_bytes(ledger, conversation):,} B | "
                f"{sum(stored):,} B in {len(stored)} | {seconds * 1e3:.2f} ms |"
            )
            if form == "attachment":
                window = TokenWindow(max_tokens=10**9)
                view = ledger.memory(conversation, window)
                reading = median_seconds(partial(ledger.memory, conversation, window), repeat)
                render_row = (
                    f"| {name} | {reading * 1e3:.2f} ms | "
                    f"{median_seconds(view.to_openai, repeat) * 1e3:.2f} ms | "
                    f"{median_seconds(view.to_responses, repeat) * 1e3:.2f} ms | "
                    f"{median_seconds(view.to_anthropic, repeat) * 1e3:.2f} ms |"
                )
    with ChatLedger.open(url, FakeTokenCounter(), kek=kek) as ledger:
        images = [with_image(size, f"picture {i}") for i in range(repeat + 1)]
        texts = [Message(role="user", content=f"text {i}") for i in range(repeat + 1)]
        image_seconds = median_seconds(lambda: ledger.record("record", images.pop()), repeat)
        text_seconds = median_seconds(lambda: ledger.record("record", texts.pop()), repeat)
    record_row = f"| {name} | {image_seconds * 1e3:.2f} ms | {text_seconds * 1e3:.2f} ms |"
    return [*page_rows, "", record_row, "", render_row]


def main(argv: list[str] | None = None) -> int:
    """Measure every backend and print the tables."""
    parser = argparse.ArgumentParser(prog="python -m tests.bench.attachments", description=__doc__)
    parser.add_argument("--db", help="a PostgreSQL server URL (a schema is made and dropped)")
    parser.add_argument("--image-bytes", type=int, default=MIB, help="the image's size")
    parser.add_argument("--repeat", type=int, default=20, help="timed calls per figure")
    args = parser.parse_args(argv)
    pages, records, renders = [], [], []
    kek = LocalKeyEncryptionKey.generate("the benchmark's own")
    with stores(args.db) as urls:
        for name, url in urls:
            rows = measure(name, url, args.image_bytes, args.repeat, kek)
            split = rows.index("")
            pages += rows[:split]
            records.append(rows[split + 1])
            renders.append(rows[split + 3])
    size = f"{args.image_bytes:,} B"
    print(f"| backend | image of {size} | bytes a history page reads | attachments | page |")
    print("| --- | --- | --- | --- | --- |")
    print("\n".join(pages))
    print(f"\n| backend | record a new image of {size} | record a text message |")
    print("| --- | --- | --- |")
    print("\n".join(records))
    print(
        "\n| backend | memory view, attachment inlined | to_openai | to_responses | to_anthropic |"
    )
    print("| --- | --- | --- | --- | --- |")
    print("\n".join(renders))
    return 0


if __name__ == "__main__":
    sys.exit(main())
