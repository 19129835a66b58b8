"""What the provider imports share: SDK objects as plain JSON data, fields taken apart, data URLs.

An import builds the fields of messages (what ``Message(**fields)`` takes), never a message
itself: the message module builds them, so that it can offer ``Message.from_openai`` without
an import cycle, and every rule of a message is checked in one place.
"""

from __future__ import annotations

import binascii
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel

from chatledger.domain.errors import InvalidMessage

Fields = dict[str, Any]
"""The fields of a message, a part or a tool call, as plain data."""

Sourced = tuple[str, Fields]
"""A message's fields and where they came from: the index of the item or turn, or ``system``."""

_DATA_URL = re.compile(r"data:([A-Za-z0-9][\w.+-]*/[\w.+-]+);base64,(.*)", re.S)


def jsonable(value: Any, field: str) -> Any:
    """``value`` as plain JSON data: SDK objects (pydantic models) as their fields as sent.

    SDK objects may sit anywhere (an assistant turn whose content is ``response.content``);
    a model gives the fields it was built or parsed with, so a response comes in as it came.
    """
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json", exclude_unset=True, by_alias=True)
    if value is None or isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, Mapping):
        return {str(key): jsonable(item, f"{field}.{key}") for key, item in value.items()}
    if isinstance(value, Iterable) and not isinstance(value, bytes | bytearray):
        return [jsonable(item, f"{field}.{index}") for index, item in enumerate(value)]
    raise InvalidMessage(field, f"must be JSON data, got {type(value).__name__}")


def an_object(value: Any, field: str) -> dict[str, Any]:
    """``value`` as a dict of its fields, sent as null left out; else raise naming ``field``."""
    if not isinstance(value, dict):
        raise InvalidMessage(field, f"must be an object, got {type(value).__name__}")
    # A field sent as null is a field not sent: every request type reads it so.
    return {key: item for key, item in value.items() if item is not None}


def a_list(value: Any, field: str) -> list[Any]:
    """``value`` if it is a list, else raise naming ``field``."""
    if not isinstance(value, list):
        raise InvalidMessage(field, f"must be a list, got {type(value).__name__}")
    return value


def take_text(data: dict[str, Any], key: str, field: str, *, required: bool = False) -> str | None:
    """Remove ``key`` from ``data`` and return it, which must be text (or absent)."""
    value = data.pop(key, None)
    if value is None:
        if required:
            raise InvalidMessage(f"{field}.{key}", "is required")
        return None
    if not isinstance(value, str):
        raise InvalidMessage(f"{field}.{key}", f"must be text, got {type(value).__name__}")
    return value


def take_object(data: dict[str, Any], key: str, field: str) -> dict[str, Any]:
    """Remove ``key`` from ``data`` and return it as an object of its fields (required)."""
    if data.get(key) is None:
        raise InvalidMessage(f"{field}.{key}", "is required")
    return an_object(data.pop(key), f"{field}.{key}")


def with_extra(fields: Fields, rest: dict[str, Any]) -> Fields:
    """``fields`` with what is left of a provider object, when anything is, as its ``extra``."""
    if rest:
        fields["extra"] = {**fields.get("extra", {}), **rest}
    return {key: value for key, value in fields.items() if value is not None}


def nest(rest: dict[str, Any], key: str, inner: dict[str, Any]) -> dict[str, Any]:
    """``rest`` with the fields left of a nested object kept under its key."""
    if inner:
        rest[key] = inner
    return rest


def binary_source(url: str) -> Fields:
    """A URL's part fields: base64 ``data`` with its media type for a data URL, else ``url``."""
    found = _DATA_URL.fullmatch(url)
    if found is not None and is_base64(found.group(2)):
        return {"data": found.group(2), "media_type": found.group(1)}
    return {"url": url}


def base64_source(data: str) -> Fields:
    """``file_data`` as part fields: a data URL, or bare base64 (no media type then)."""
    found = _DATA_URL.fullmatch(data)
    if found is not None and is_base64(found.group(2)):
        return {"data": found.group(2), "media_type": found.group(1)}
    return {"data": data}


def is_base64(text: str) -> bool:
    """Whether ``text`` is strict base64: what a part's ``data`` must be."""
    try:
        binascii.a2b_base64(text, strict_mode=True)
    except (binascii.Error, ValueError):
        return False
    return True


def json_text(value: Any, field: str) -> str:
    """A tool's parsed input as JSON text, the form chatledger keeps arguments in."""
    try:
        return json.dumps(value, ensure_ascii=False, allow_nan=False)
    except ValueError as exc:
        raise InvalidMessage(field, f"must be JSON: {exc}") from None


def unsupported(field: str, kind: object, known: str) -> InvalidMessage:
    """The error for a provider item or part no import takes, naming what it does take."""
    return InvalidMessage(field, f"{kind!r} is not imported; the import takes {known}")
