"""Which tiktoken encoding each OpenAI model family counts with."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from chatledger.domain import EncodingUnavailable
from chatledger.infrastructure.tokens.encodings import ENCODINGS

__all__ = ["DEFAULT_ENCODING", "MODEL_ENCODINGS", "encoding_for_model"]

DEFAULT_ENCODING = "o200k_base"
"""What a counter named by neither model nor encoding counts with: every current OpenAI model's."""

MODEL_ENCODINGS: Mapping[str, str] = MappingProxyType(
    {
        "gpt-5": "o200k_base",
        "gpt-4.5": "o200k_base",
        "gpt-4.1": "o200k_base",
        "gpt-4o": "o200k_base",
        "chatgpt-4o": "o200k_base",
        "o1": "o200k_base",
        "o3": "o200k_base",
        "o4": "o200k_base",
        "gpt-4": "cl100k_base",
        "gpt-3.5-turbo": "cl100k_base",
        "gpt-35-turbo": "cl100k_base",  # Azure's deployment name
    }
)
"""Model families and their encodings, as tiktoken.model maps them. A family covers its dated
and sized variants and point releases (``gpt-4o-2024-08-06``, ``gpt-4.1-mini``, ``gpt-5.1``,
``o4-mini``) and fine-tunes of it (``ft:gpt-4o-mini:org::id``)."""

# Longest first, so gpt-4o and gpt-4.1 are never taken for gpt-4.
_FAMILIES = sorted(MODEL_ENCODINGS, key=len, reverse=True)


def _point_release(family: str) -> tuple[str, ...]:
    # gpt-5.1 is a gpt-5; gpt-4's point releases (4.1, 4.5) are families of their own, with
    # another encoding, so an unlisted gpt-4.x is unknown rather than guessed.
    return () if family == "gpt-4" else (family + ".",)


def encoding_for_model(model: str) -> str:
    """The encoding ``model`` counts with, e.g. ``o200k_base`` for ``gpt-4o-mini``.

    Raises:
        EncodingUnavailable: the model is of no known family; it names the families.
    """
    base = model.split(":")[1] if model.startswith("ft:") and model.count(":") else model
    for family in _FAMILIES:
        if base == family or base.startswith((family + "-", *_point_release(family))):
            return MODEL_ENCODINGS[family]
    raise EncodingUnavailable(
        f"model {model!r} is of no model family chatledger knows the encoding of "
        f"({', '.join(MODEL_ENCODINGS)}); pass encoding= (one of {', '.join(ENCODINGS)}) instead"
    )
