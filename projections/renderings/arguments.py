"""Tool arguments, kept as the model's raw text, as the JSON object Anthropic's ``input`` wants."""

from __future__ import annotations

import json
import math
from typing import Any

MAX_INPUT_DEPTH = 64
"""Arguments nested deeper than this are passed as text: no request needs more, and every
JSON encoder and decoder along the way handles this much."""


class _NotPortable(ValueError):
    """Parsed arguments that would not survive being written as JSON (RFC 8259) again."""


def _refuse_constant(name: str) -> Any:
    raise _NotPortable(f"{name} is not JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise _NotPortable(f"{text} is out of range")
    return value


def tool_input(arguments: str) -> dict[str, Any]:
    """A tool call's arguments as the JSON object Anthropic wants; other text is kept whole.

    Arguments are the model's raw text, recorded verbatim: text that is no JSON, or JSON that
    cannot be written out again as JSON (NaN, 1e400, an escaped lone surrogate, nesting past
    MAX_INPUT_DEPTH), goes as ``{"arguments": text}``, so no recorded message fails a rendering.
    """
    if not arguments.strip():
        return {}
    try:
        parsed = json.loads(arguments, parse_constant=_refuse_constant, parse_float=_finite_float)
        _check_portable(parsed)
    except (ValueError, RecursionError):
        return {"arguments": arguments}
    return parsed if isinstance(parsed, dict) else {"arguments": parsed}


def _check_portable(value: Any) -> None:
    """Raise _NotPortable for text UTF-8 cannot carry, or nesting past MAX_INPUT_DEPTH."""
    pending: list[tuple[Any, int]] = [(value, 0)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, str):
            item.encode("utf-8")  # a lone surrogate raises UnicodeEncodeError, a ValueError
        elif isinstance(item, (dict, list)):
            if depth >= MAX_INPUT_DEPTH:
                raise _NotPortable(f"nested deeper than {MAX_INPUT_DEPTH} levels")
            children = [*item.keys(), *item.values()] if isinstance(item, dict) else item
            pending += [(child, depth + 1) for child in children]
