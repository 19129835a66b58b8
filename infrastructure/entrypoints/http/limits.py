"""A bound on request bodies, enforced before anything parses them: 413 past it."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from chatledger.infrastructure.entrypoints.http.problems import ProblemError, problem_response

DEFAULT_MAX_BODY_BYTES = 2 * 1024 * 1024


class BodyLimit:
    """ASGI middleware answering 413 to a body over ``max_bytes``, declared or streamed."""

    def __init__(self, app: ASGIApp, max_bytes: int = DEFAULT_MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            response = problem_response(self._too_large().problem, {"Connection": "close"})
            await response(scope, receive, send)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    # Raised inside the app's body read, so its problem handler answers.
                    raise self._too_large()
            return message

        await self.app(scope, limited_receive, send)

    def _too_large(self) -> ProblemError:
        return ProblemError(
            413,
            "body-too-large",
            f"the request body is over the limit of {self.max_bytes} bytes",
            headers={"Connection": "close"},
        )
