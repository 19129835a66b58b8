"""What erasure's cryptography costs a record, each piece timed on its own, side by side.

``python -m tests.bench.crypto`` times, per message, the plain sha256 digest that conversations
of digest scheme 1 store beside the keyed HMAC that scheme 2 stores, the keyed claim id,
sealing and opening the text, and unwrapping a data key with the key-encryption key (done
once per conversation per key-cache period), in alternating rounds in one process. It prints
a Markdown table to stdout. No database is involved: these are the CPU costs inside ``record()``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from collections.abc import Callable

from chatledger import Message
from chatledger.infrastructure.storage.keys import InMemoryKeyStore
from chatledger.infrastructure.storage.sealing import Sealer
from chatledger.infrastructure.storage.wrapping import LocalKeyEncryptionKey
from tests.bench.timing import side_by_side

CONVERSATION = "bench-crypto"


def subjects(message: Message) -> dict[str, Callable[[], object]]:
    """Each piece of a record's cryptography, as a call timed on its own."""
    sealer = Sealer(InMemoryKeyStore())
    canonical = message.canonical_json()
    sealed = sealer.seal(CONVERSATION, 2, canonical)
    kek = LocalKeyEncryptionKey.generate()
    context = CONVERSATION.encode()
    wrapped = kek.wrap(os.urandom(32), context)
    return {
        "plain sha256 digest (scheme 1)": message.digest,
        "keyed HMAC digest (scheme 2)": lambda: sealer.digest(
            CONVERSATION, message.canonical_json()
        ),
        "keyed claim id (scheme 2)": lambda: sealer.claim_id(CONVERSATION, message.id),
        "seal the message text": lambda: sealer.seal(CONVERSATION, 2, canonical),
        "open the message text": lambda: sealer.open(CONVERSATION, 2, sealed),
        "unwrap a data key (on a key-cache miss)": lambda: kek.unwrap(wrapped, context),
    }


def main(argv: list[str] | None = None) -> int:
    """Time every subject and print the table."""
    parser = argparse.ArgumentParser(prog="python -m tests.bench.crypto", description=__doc__)
    parser.add_argument("--repeat", type=int, default=2000, help="timed calls per subject")
    parser.add_argument("--chars", type=int, default=400, help="characters of message text")
    args = parser.parse_args(argv)
    message = Message(role="user", content=("the quick brown fox " * 1000)[: args.chars])
    calls = subjects(message)
    samples = side_by_side(calls, dict.fromkeys(calls, args.repeat))
    baseline = samples["plain sha256 digest (scheme 1)"].median
    print(f"| per message of {args.chars} characters | median | of the plain digest |")
    print("| --- | --- | --- |")
    for name, sample in samples.items():
        print(f"| {name} | {sample.median * 1e6:.2f} µs | {sample.median / baseline:.2f}x |")
    spread = statistics.median(s.p95 / s.median for s in samples.values())
    print(f"\n(median p95/median spread across rows: {spread:.2f})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
