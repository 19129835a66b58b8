"""The checks every message model runs: text stores can keep, JSON that stays JSON, errors."""

from __future__ import annotations

import math
from typing import Annotated, Any, ClassVar
from uuid import uuid4

from pydantic import BaseModel, ConfigDict, JsonValue, StrictStr, StringConstraints, ValidationError

from chatledger.domain.errors import InvalidMessage
from chatledger.domain.limits import field_path

MAX_ID_LENGTH = 200


def check_text_value(value: str) -> str:
    """Reject text that no database or provider will carry faithfully."""
    if "\x00" in value:
        raise ValueError("contains a NUL character")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(f"contains a lone surrogate at index {exc.start}") from None
    return value


def check_json_text(value: JsonValue) -> None:
    if isinstance(value, str):
        check_text_value(value)
    elif isinstance(value, dict):
        for key, item in value.items():
            check_text_value(key)
            check_json_text(item)
    elif isinstance(value, list):
        for item in value:
            check_json_text(item)


# A text's own checks (check_text_value) run with each model's rules. The messages users see
# are written by invalid below.
Text = StrictStr
Identifier = Annotated[StrictStr, StringConstraints(min_length=1, max_length=MAX_ID_LENGTH)]


def check_texts(texts: dict[str, str | None]) -> None:
    for field, text in texts.items():
        if text is not None:
            try:
                check_text_value(text)
            except ValueError as exc:
                raise InvalidMessage(field, str(exc)) from None


def new_id() -> str:
    return uuid4().hex


class Frozen(BaseModel):
    """A frozen, strict model whose rules run whenever it is built from a dict or JSON object.

    The rules run in ``__init__``, and pydantic calls an overridden ``__init__`` to build a
    model from a dict or a JSON object: directly, by ``model_validate``, or inside another
    model. A model passed in already built is taken as built: it was checked when it was
    built. Whatever builds one without its ``__init__`` (``model_construct``, a store reading
    back what it sealed) skips the rules.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    _noun: ClassVar[str] = "message"

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise invalid(exc, self._noun) from None
        self._check_rules()

    def _check_rules(self) -> None:
        """Raise InvalidMessage, naming the field, for a rule the field types do not state."""


_PART_TAGS = frozenset({"text", "image", "file", "audio", "refusal", "reasoning"})


def _best_error(errors: list[Any]) -> Any:
    """The error to report: for a union, the branch the input was meant for."""
    first = errors[0]
    if len(first["loc"]) < 2 or first["loc"][-1] != "str" or first["type"] != "string_type":
        return first
    # Text or parts: a list was meant as parts, anything else gets one error saying both.
    branches = [e for e in errors[1:] if e["loc"][: len(first["loc"]) - 1] == first["loc"][:-1]]
    if branches and branches[0]["type"] != "tuple_type":
        return branches[0]
    return {
        **first,
        "loc": first["loc"][:-1],
        "msg": f"must be text, a list of parts, or null; got {type(first['input']).__name__}",
        "type": "content_type",
    }


def _location(loc: Any) -> list[str]:
    """A field path without pydantic's union labels: ``content.0.detail``."""
    shown: list[str] = []
    previous: object = None
    for part in loc:
        labelled = isinstance(part, str) and "[" in part
        tag = isinstance(previous, int) and part in _PART_TAGS
        if not labelled and not tag:
            shown.append(str(part))
        previous = part
    return shown


def invalid(exc: ValidationError, noun: str = "message") -> InvalidMessage:
    """The InvalidMessage naming the field a validation error is about, in plain words."""
    error = _best_error(exc.errors(include_url=False))
    location = _location(error["loc"])
    cause = (error.get("ctx") or {}).get("error")
    problem = str(cause) if isinstance(cause, ValueError) else error["msg"]
    if isinstance(cause, InvalidMessage):
        location.append(cause.field)
        problem = cause.problem
    field = field_path(location) or "message"
    if error["type"] == "string_too_short":
        problem = "must not be empty"
    if error["type"] == "string_unicode" and isinstance(error["input"], str):
        try:
            check_text_value(
                error["input"]
            )  # the same words as a surrogate found by our own checks
        except ValueError as text_error:
            problem = str(text_error)
    if error["type"] == "string_too_long":
        problem = f"must be at most {MAX_ID_LENGTH} characters, got {len(error['input'])}"
    if error["type"] == "literal_error" and field == "role":
        problem = f"must be one of system, developer, user, assistant, tool; got {error['input']!r}"
    elif error["type"] == "union_tag_invalid":
        ctx = error.get("ctx") or {}
        problem = f"must be one of {ctx.get('expected_tags')}; got {ctx.get('tag')!r}"
    elif error["type"] == "union_tag_not_found":
        problem = "needs a type (text, image, file, audio, refusal or reasoning)"
    elif error["type"] == "extra_forbidden":
        problem = f"is not a {noun} field" + (
            "; keep a provider's own fields in extra" if noun != "message" else ""
        )
    return InvalidMessage(field, problem)


def utf8_size(text: str | None) -> int:
    return 0 if text is None else len(text.encode("utf-8"))


def check_json_numbers(value: JsonValue, field: str) -> None:
    """Raise InvalidMessage naming the path of a NaN or an infinity: JSON has no such number."""
    pending: list[tuple[JsonValue, tuple[object, ...]]] = [(value, (field,))]
    while pending:
        item, path = pending.pop()
        if isinstance(item, float) and not math.isfinite(item):
            raise InvalidMessage(
                field_path(path), f"must be a finite number, got {item!r}: JSON has no {item!r}"
            )
        if isinstance(item, dict):
            pending += [(child, (*path, key)) for key, child in item.items()]
        elif isinstance(item, list):
            pending += [(child, (*path, index)) for index, child in enumerate(item)]


def json_depth(value: JsonValue) -> int:
    """Levels of objects and arrays in ``value``: 1 for a flat object."""
    deepest = 0
    pending: list[tuple[JsonValue, int]] = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict):
            deepest = max(deepest, depth)
            pending += [(child, depth + 1) for child in item.values()]
        elif isinstance(item, list):
            deepest = max(deepest, depth)
            pending += [(child, depth + 1) for child in item]
    return deepest
