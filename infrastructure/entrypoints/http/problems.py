"""Errors as one JSON problem shape (RFC 9457), whatever raised them."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from http import HTTPStatus
from typing import Any

from eventsourcing.persistence import PersistenceError
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException
from starlette.responses import Response

from chatledger.domain import (
    ChatLedgerError,
    ConcurrencyConflict,
    ConversationErased,
    HeldByBranch,
    IdempotencyConflict,
    InvalidInput,
    StorageUnavailable,
    SummarizerFailed,
    UnknownAttachment,
    UnknownConversation,
    WriteContention,
)
from chatledger.domain.limits import field_path

MEDIA_TYPE = "application/problem+json"
TYPE_PREFIX = "urn:chatledger:problem:"
RETRY_AFTER_SECONDS = 1
"""What a 503 asks the client to wait before it retries."""

_LOCATIONS = {"body", "query", "path", "header", "cookie"}
_UNION_TAGS = {"message", "turn"}
"""Tags of the record body's union, which name no field of the request (other bodies, such
as an edit's, may have a field of the same name)."""

log = logging.getLogger(__name__)


class FieldError(BaseModel):
    """One field that failed validation."""

    field: str
    detail: str


class Problem(BaseModel):
    """An error response (RFC 9457); ``field`` names the input that was wrong, when one was."""

    model_config = ConfigDict(extra="allow")

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    field: str | None = None
    errors: list[FieldError] | None = None


class ProblemError(HTTPException):
    """Raised by a route (or while the body is read) to answer with a problem."""

    def __init__(
        self,
        status: int,
        kind: str,
        detail: str,
        *,
        field: str | None = None,
        headers: dict[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(status, detail, headers)
        self.problem = Problem(
            type=TYPE_PREFIX + kind,
            title=kind.replace("-", " ").capitalize(),
            status=status,
            detail=detail,
            field=field,
            **extensions,
        )


def problem_response(problem: Problem, headers: dict[str, str] | None = None) -> Response:
    """The problem as an application/problem+json response."""
    body = problem.model_dump(mode="json", exclude_none=True)
    # ASCII escapes: a detail may quote input holding lone surrogates, which UTF-8 cannot carry.
    return Response(
        json.dumps(body, ensure_ascii=True).encode("ascii"),
        status_code=problem.status,
        media_type=MEDIA_TYPE,
        headers=headers,
    )


def problem_for(exc: ChatLedgerError) -> ProblemError:
    """The problem answering a ledger error."""
    if isinstance(exc, InvalidInput):
        return ProblemError(422, "invalid-input", exc.problem, field=exc.field)
    if isinstance(exc, UnknownConversation):
        return ProblemError(404, "unknown-conversation", "no such conversation")
    if isinstance(exc, UnknownAttachment):
        return ProblemError(404, "unknown-attachment", "no such attachment", field="digest")
    if isinstance(exc, ConversationErased):
        return ProblemError(410, "conversation-erased", "the conversation was erased")
    if isinstance(exc, HeldByBranch):
        return ProblemError(409, "held-by-branch", str(exc))
    if isinstance(exc, ConcurrencyConflict):
        return ProblemError(
            409,
            "version-conflict",
            f"the conversation is at version {exc.actual}, not {exc.expected}: "
            "read it again and retry",
            expected=exc.expected,
            actual=exc.actual,
            headers={"ETag": f'"{exc.actual}"'},
        )
    if isinstance(exc, IdempotencyConflict):
        return ProblemError(
            409,
            "idempotency-conflict",
            f"message id {exc.message_id!r} was recorded at position {exc.position} with "
            "different content; use a new id or Idempotency-Key",
            field="id",
        )
    if isinstance(exc, StorageUnavailable):
        log.error("database error", exc_info=exc)
        return store_unavailable()
    if isinstance(exc, WriteContention):
        return ProblemError(
            503,
            "write-contention",
            "too many writers at once: nothing was written; retry later",
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
    if isinstance(exc, SummarizerFailed):
        # The summarizer is another service: its failure is a bad gateway, and changed nothing.
        return ProblemError(
            502, "summarizer-failed", f"{exc.cause}; nothing was recorded", cause=exc.cause
        )
    log.error("unexpected ledger error", exc_info=exc)
    return ProblemError(500, "internal-error", "the server could not complete the request")


def store_unavailable() -> ProblemError:
    """The 503 answering a store that could not be reached or used; the client retries later."""
    return ProblemError(
        503,
        "database-unavailable",
        "the store could not be reached; retry later",
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def validation_problem(errors: Sequence[Any], *, record_body: bool = False) -> Problem:
    """The problem of a request that failed validation, naming each field.

    ``record_body``: the body is the record endpoint's union, whose tags name no field.
    """
    fields = [_field_error(error, record_body) for error in errors]
    first = fields[0] if fields else FieldError(field="body", detail="is invalid")
    return Problem(
        type=TYPE_PREFIX + "invalid-input",
        title="Invalid input",
        status=422,
        detail=f"{first.field}: {first.detail}",
        field=first.field,
        errors=fields,
    )


def _field_error(error: Any, record_body: bool) -> FieldError:
    loc = [str(part) for part in error.get("loc", ())]
    location = loc[0] if loc and loc[0] in _LOCATIONS else None
    if location is not None:
        loc = loc[1:]
    if record_body and location == "body" and loc and loc[0] in _UNION_TAGS:
        loc = loc[1:]
    detail = str(error.get("msg", "is invalid"))
    cause = (error.get("ctx") or {}).get("error")
    if isinstance(cause, InvalidInput):
        # The domain's own message names the field inside the object, more clearly.
        loc = [*loc, cause.field] if cause.field != "message" else loc
        detail = cause.problem
    elif error.get("type") == "json_invalid":
        reason = (error.get("ctx") or {}).get("error", detail)
        where = f" at character {loc[0]}" if loc else ""
        loc, detail = [], f"is not valid JSON: {reason}{where}"
    field = field_path(loc) or (location or "body")
    return FieldError(field=field, detail=detail)


def install(app: FastAPI) -> None:
    """Answer every error the app can raise with a problem."""

    async def on_problem(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ProblemError)
        return problem_response(exc.problem, dict(exc.headers or {}))

    async def on_ledger_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ChatLedgerError)
        error = problem_for(exc)
        return problem_response(error.problem, dict(error.headers or {}))

    async def on_validation(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        records = request.method == "POST" and request.url.path.endswith("/messages")
        return problem_response(validation_problem(exc.errors(), record_body=records))

    async def on_http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        phrase = HTTPStatus(exc.status_code).phrase
        detail = exc.detail if isinstance(exc.detail, str) and exc.detail != phrase else None
        problem = Problem(title=phrase, status=exc.status_code, detail=detail)
        return problem_response(problem, dict(exc.headers or {}))

    async def on_database(request: Request, exc: Exception) -> Response:
        # The ledger's methods raise StorageUnavailable; this catches the SQL tables the
        # service keeps beside the events (tenants, sessions), which it reaches directly.
        log.error("database error", exc_info=exc)
        error = store_unavailable()
        return problem_response(error.problem, dict(error.headers or {}))

    async def on_anything(request: Request, exc: Exception) -> Response:
        log.error("unhandled error", exc_info=exc)
        problem = Problem(
            type=TYPE_PREFIX + "internal-error",
            title="Internal error",
            status=500,
            detail="the server could not complete the request",
        )
        return problem_response(problem)

    app.add_exception_handler(ProblemError, on_problem)
    app.add_exception_handler(ChatLedgerError, on_ledger_error)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(HTTPException, on_http)
    app.add_exception_handler(PersistenceError, on_database)
    app.add_exception_handler(Exception, on_anything)
