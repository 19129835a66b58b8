"""Bounds on request bodies, enforced before anything parses them: 413 past them.

The endpoints that record messages (``messages``, and ``edit``, which records one on a new
branch) take the largest bodies (a message may carry an attachment of up to
``Limits.max_attachment_bytes``, base64 in JSON); every other endpoint takes small ones.
"""

from __future__ import annotations

import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from chatledger.domain.attachments import base64_length
from chatledger.infrastructure.entrypoints.http.problems import ProblemError, problem_response

DEFAULT_MAX_BODY_BYTES = 2 * 1024 * 1024
_RECORD_PATH = re.compile(r"/v1/conversations/[^/]+/(?:messages|edit)")


def record_body_bytes(
    max_attachment_bytes: int, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
) -> int:
    """The record endpoint's default body limit: one attachment at its limit, as base64, and
    a body's worth besides for the rest of the message."""
    return base64_length(max_attachment_bytes) + max_body_bytes


class BodyLimit:
    """ASGI middleware answering 413 to a body over its limit, declared or streamed.

    ``max_record_bytes`` bounds what recording messages takes (POST .../messages and .../edit);
    ``max_bytes`` every other request. The problem names the limit it is over.
    """

    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int = DEFAULT_MAX_BODY_BYTES,
        max_record_bytes: int | None = None,
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.max_record_bytes = max_bytes if max_record_bytes is None else max_record_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        records = scope["method"] == "POST" and _RECORD_PATH.fullmatch(scope["path"]) is not None
        name, limit = (
            ("max_record_body_bytes", self.max_record_bytes)
            if records
            else ("max_body_bytes", self.max_bytes)
        )
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            response = problem_response(_too_large(name, limit).problem, {"Connection": "close"})
            await response(scope, receive, send)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # Raised inside the app's body read, so its problem handler answers.
                    raise _too_large(name, limit)
            return message

        await self.app(scope, limited_receive, send)


def _too_large(name: str, limit: int) -> ProblemError:
    return ProblemError(
        413,
        "body-too-large",
        f"the request body is over the limit {name} of {limit} bytes",
        headers={"Connection": "close"},
        limit=name,
        max_bytes=limit,
    )
