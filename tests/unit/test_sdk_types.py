"""Our provider renderings type-check as the official SDKs' request parameters (mypy runs here).

The functions below are never called: mypy checks that a memory view's renderings are what
``client.chat.completions.create(messages=...)`` and ``client.messages.create(...)`` accept,
with no cast. The tests below check that they exist, and that those types cost no run-time
import.
"""

from __future__ import annotations

import subprocess
import sys

from anthropic import Anthropic
from openai import OpenAI

from chatledger.projections import MemoryView


def send_to_openai(client: OpenAI, view: MemoryView) -> object:
    """A Chat Completions call with the view's rendering, as an application writes it."""
    return client.chat.completions.create(model="gpt-4o-mini", messages=view.to_openai())


def send_to_responses(client: OpenAI, view: MemoryView) -> object:
    """A Responses call with the view's rendering as its input items."""
    return client.responses.create(model="gpt-5", input=view.to_responses())


def send_rendering_to_openai(client: OpenAI, view: MemoryView) -> object:
    """A Chat Completions call with the payload of the view's rendering, omissions apart."""
    return client.chat.completions.create(
        model="gpt-4o-mini", messages=view.rendering("openai").payload
    )


def send_to_anthropic(client: Anthropic, view: MemoryView) -> object:
    """A Messages call with the view's rendering, system prompt apart."""
    rendered = view.to_anthropic()
    if rendered["system"] is None:
        return client.messages.create(
            model="claude-sonnet-4-5", max_tokens=1024, messages=rendered["messages"]
        )
    return client.messages.create(
        model="claude-sonnet-4-5",
        max_tokens=1024,
        system=rendered["system"],
        messages=rendered["messages"],
    )


def test_the_sdk_calls_are_type_checked_by_mypy() -> None:
    assert callable(send_to_openai)
    assert callable(send_to_responses)
    assert callable(send_rendering_to_openai)
    assert callable(send_to_anthropic)


def test_the_projections_import_no_sdk_at_run_time() -> None:
    # A fresh interpreter: this module has imported both SDKs already.
    probe = (
        "import sys, chatledger.projections.formats, chatledger.projections.memory, "
        "chatledger.projections.renderings, chatledger.domain.imports; "
        "print(sorted(m for m in ('openai', 'anthropic') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )

    assert result.stdout.strip() == "[]"
