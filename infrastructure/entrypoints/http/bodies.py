"""Request bodies: JSON only (else 415), parsed strictly, each refusal saying where it is."""

from __future__ import annotations

import email.message
import json
import math
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute

from chatledger.domain.limits import field_path
from chatledger.infrastructure.entrypoints.http.problems import ProblemError

MAX_JSON_DEPTH = 100
"""Levels of objects and arrays a body may nest: far more than any message needs (metadata's
own limit is lower), far less than the parser's recursion can take."""
MAX_NUMBER_LENGTH = 100
"""Characters a JSON number may have; a longer one is refused before Python converts it."""


class _Refused:
    """Put in the parsed body where a number cannot be taken, so its path can be named."""

    def __init__(self, problem: str) -> None:
        self.problem = problem


class _Numbers:
    """The parser's hooks for numbers: each refusal is marked in place and counted."""

    def __init__(self) -> None:
        self.refused = 0

    def refuse(self, problem: str) -> _Refused:
        self.refused += 1
        return _Refused(problem)

    def constant(self, name: str) -> _Refused:
        return self.refuse(f"is {name}, which is no JSON number: give a finite number")

    def real(self, text: str) -> float | _Refused:
        if len(text) > MAX_NUMBER_LENGTH:
            return self.long(text)
        value = float(text)
        if math.isinf(value):
            return self.refuse(f"is {text}, out of a 64-bit float's range: give a finite number")
        return value

    def integer(self, text: str) -> int | _Refused:
        return self.long(text) if len(text) > MAX_NUMBER_LENGTH else int(text)

    def long(self, text: str) -> _Refused:
        limit = MAX_NUMBER_LENGTH
        return self.refuse(f"is a number of {len(text)} characters, over the limit of {limit}")


def _invalid(detail: str, field: str = "body") -> ProblemError:
    return ProblemError(422, "invalid-input", f"{field}: {detail}", field=field)


def parse_json(body: bytes) -> Any:
    """The body as JSON (RFC 8259, UTF-8), or a 422 problem naming where it went wrong."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        byte = f"0x{body[exc.start]:02x}"
        raise _invalid(f"is not valid UTF-8: byte {byte} at byte {exc.start}") from None
    numbers = _Numbers()
    try:
        parsed = json.loads(
            text,
            parse_constant=numbers.constant,
            parse_float=numbers.real,
            parse_int=numbers.integer,
        )
    except json.JSONDecodeError as exc:
        raise _invalid(f"is not valid JSON: {exc.msg} at character {exc.pos}") from None
    except RecursionError:
        where = _too_deep_at(text)
        limit = MAX_JSON_DEPTH
        raise _invalid(f"is nested more than {limit} levels deep, from character {where}") from None
    # Fewer brackets than the depth allows cannot nest too deep: most bodies skip the walk.
    if numbers.refused or body.count(b"[") + body.count(b"{") > MAX_JSON_DEPTH:
        _check_parsed(parsed)
    return parsed


def _check_parsed(parsed: Any) -> None:
    """Raise a 422 naming the path of a refused number, or of nesting past MAX_JSON_DEPTH."""
    pending: list[tuple[Any, tuple[object, ...]]] = [(parsed, ())]
    while pending:
        item, path = pending.pop()
        if isinstance(item, _Refused):
            raise _invalid(item.problem, field_path(path) or "body")
        if isinstance(item, (dict, list)):
            if len(path) >= MAX_JSON_DEPTH:
                raise _invalid(
                    f"is nested more than {MAX_JSON_DEPTH} levels deep", field_path(path)
                )
            children = item.items() if isinstance(item, dict) else enumerate(item)
            pending += [(child, (*path, key)) for key, child in children]


def _too_deep_at(text: str) -> int:
    """The character where the text's nesting passes MAX_JSON_DEPTH (only on the error path)."""
    depth, in_string, escaped = 0, False, False
    for index, char in enumerate(text):
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > MAX_JSON_DEPTH:
                return index
        elif char in "]}":
            depth -= 1
    return len(text)


def _is_json(content_type: str | None) -> bool:
    if not content_type:
        return False
    message = email.message.Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    charset = message.get_param("charset")
    return (
        message.get_content_maintype() == "application"
        and (subtype == "json" or subtype.endswith("+json"))
        and (charset is None or str(charset).lower() in ("utf-8", "utf8"))
    )


class JSONRequest(Request):
    """A request whose JSON body is parsed strictly by ``parse_json``."""

    async def json(self) -> Any:
        """The body as JSON, or a 422 problem naming where it is not."""
        if not hasattr(self, "_json"):
            self._json = parse_json(await self.body())
        return self._json


class JSONRoute(APIRoute):
    """A route whose body, when it takes one, must be UTF-8 JSON sent as application/json."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """The route's handler, reading the body as a JSONRequest after checking its type."""
        handle = super().get_route_handler()
        takes_body = self.body_field is not None

        async def handler(request: Request) -> Response:
            strict = JSONRequest(request.scope, request.receive)
            if takes_body:
                content_type = strict.headers.get("content-type")
                if await strict.body() and not _is_json(content_type):
                    raise ProblemError(
                        415,
                        "unsupported-media-type",
                        "send the body as JSON with Content-Type: application/json, got "
                        + (repr(content_type[:60]) if content_type else "no Content-Type"),
                        field="Content-Type",
                    )
            return await handle(strict)

        return handler
