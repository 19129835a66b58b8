"""Recording one message at a time or in batches gives the same history and memory views."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from chatledger.domain import Message
from chatledger.infrastructure import ChatLedger
from chatledger.projections import Policy
from tests.fakes import FakeTokenCounter
from tests.unit.test_memory_properties import RUNS, policies


@settings(max_examples=60, deadline=None)
@given(
    runs=st.lists(st.sampled_from(RUNS), min_size=1, max_size=25),
    cuts=st.lists(st.booleans(), min_size=80, max_size=80),
    policy=policies,
)
def test_batching_never_changes_history_or_memory(
    runs: list[tuple[Message, ...]], cuts: list[bool], policy: Policy
) -> None:
    # Fresh ids per position: the pool reuses message objects, the ledger would deduplicate.
    messages = [
        message.model_copy(update={"id": f"m{i}"})
        for i, message in enumerate(m for run in runs for m in run)
    ]
    batches: list[list[Message]] = [[]]
    for message, cut in zip(messages, cuts + [False] * len(messages), strict=False):
        batches[-1].append(message)
        if cut:
            batches.append([])

    with (
        ChatLedger.open("memory://", FakeTokenCounter()) as single,
        ChatLedger.open("memory://", FakeTokenCounter()) as batched,
    ):
        for message in messages:
            single.record("c", message)
        for batch in filter(None, batches):
            batched.record("c", batch)

        length = single.version("c")
        assert batched.version("c") == length
        assert single.history("c").messages == batched.history("c").messages
        for at in range(length + 1):
            one, many = single.memory("c", policy, at=at), batched.memory("c", policy, at=at)
            assert (one.positions, one.tokens) == (many.positions, many.tokens)
