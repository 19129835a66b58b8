"""Adapters for the frameworks LLM apps are built with, each importable only with its extra.

``chatledger.integrations.langchain`` (``pip install 'chatledger[langchain]'``),
``chatledger.integrations.openai_agents`` (``chatledger[agents]``) and
``chatledger.integrations.pydantic_ai`` (``chatledger[pydantic-ai]``). This package imports none
of them: a framework is imported only by its own adapter's module, when that is imported.
"""

from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def needs(extra: str) -> Iterator[None]:
    """Around an adapter's framework imports: a missing framework names the extra to install."""
    try:
        yield
    except ModuleNotFoundError as missing:
        raise ModuleNotFoundError(
            f"{missing}: this chatledger adapter needs its framework: "
            f"pip install 'chatledger[{extra}]'",
            name=missing.name,
        ) from missing
