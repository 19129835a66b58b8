"""Routes to list a tenant's conversations, record messages and page through history."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator, Sequence
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Response

from chatledger.domain import MAX_POSITION, ConversationRecord, InvalidInput, Message
from chatledger.infrastructure.entrypoints.http.access import (
    Conversation,
    Principal,
    authenticate,
    existing_conversation,
    named_conversation,
)
from chatledger.infrastructure.entrypoints.http.bodies import JSONRoute
from chatledger.infrastructure.entrypoints.http.problems import Problem, ProblemError
from chatledger.infrastructure.entrypoints.http.schemas import (
    ConversationList,
    ConversationSummary,
    HistoryPage,
    ProviderTurn,
    RecordBody,
    Recorded,
    Turn,
)
from chatledger.infrastructure.entrypoints.http.service import Service, service
from chatledger.infrastructure.entrypoints.provider_input import provider_messages
from chatledger.infrastructure.entrypoints.tenancy import external_id, ledger_id

router = APIRouter(prefix="/v1/conversations", tags=["conversations"], route_class=JSONRoute)

PROBLEMS: dict[int | str, dict[str, object]] = {
    status: {"model": Problem, "description": description}
    for status, description in {
        401: "No valid API key or session",
        404: "No such conversation (or not the caller's)",
        422: "Invalid input; `field` names it",
    }.items()
}

_IDEMPOTENCY_KEY = re.compile(r"[A-Za-z0-9._:@-]{1,150}")
_IF_MATCH = re.compile(r'(?:W/)?"?(\d{1,16})"?')
_SCAN_PAGE = 200


@router.get("", responses=PROBLEMS)
def list_conversations(
    principal: Annotated[Principal, Depends(authenticate)],
    svc: Annotated[Service, Depends(service)],
    after: Annotated[str, Query(max_length=100, description="The last id of the page before")] = "",
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> ConversationList:
    """The caller's conversations in id order, a page at a time."""
    if principal.session is not None and not principal.session.signed_in:
        records = _started(svc, principal.tenant, principal.session.conversations, after)
    else:
        records = _tenant_conversations(svc, principal.tenant, after)
    found = list(itertools.islice(records, limit + 1))
    page = [
        ConversationSummary(
            id=external_id(principal.tenant, record.conversation_id) or "",
            created_at=record.created_at,
            erased_at=record.erased_at,
        )
        for record in found[:limit]
    ]
    return ConversationList(conversations=page, next=page[-1].id if len(found) > limit else None)


def _tenant_conversations(svc: Service, tenant: str, after: str) -> Iterator[ConversationRecord]:
    """The tenant's directory entries after ``after``, in id order.

    The directory is ordered by id, so a tenant's entries form one run from its prefix on.
    """
    prefix = f"{tenant}:"
    cursor = prefix + after
    while True:
        records = svc.ledger.conversations(after=cursor, limit=_SCAN_PAGE)
        for record in records:
            if not record.conversation_id.startswith(prefix):
                return
            yield record
        if len(records) < _SCAN_PAGE:
            return
        cursor = records[-1].conversation_id


def _started(
    svc: Service, tenant: str, conversations: Sequence[str], after: str
) -> Iterator[ConversationRecord]:
    """The directory entries of the conversations a session started, in id order."""
    for conversation in sorted(c for c in conversations if c > after):
        record = svc.ledger.conversation(ledger_id(tenant, conversation))
        if record is not None:
            yield record


@router.post(
    "/{conversation_id}/messages",
    status_code=201,
    responses={
        **PROBLEMS,
        200: {"model": Recorded, "description": "A retry: the original entries, nothing new"},
        409: {"model": Problem, "description": "If-Match version or idempotency conflict"},
        410: {"model": Problem, "description": "The conversation was erased"},
        413: {"model": Problem, "description": "The body is over the size limit"},
        415: {"model": Problem, "description": "The body is not sent as application/json"},
    },
)
def record(
    body: RecordBody,
    response: Response,
    conversation: Annotated[Conversation, Depends(named_conversation)],
    svc: Annotated[Service, Depends(service)],
    if_match: Annotated[
        str | None,
        Header(description="The version (message count) the write expects, else 409"),
    ] = None,
    idempotency_key: Annotated[
        str | None,
        Header(description="The id of a message that gives none (for a turn, KEY-0, KEY-1...)"),
    ] = None,
) -> Recorded:
    """Record one message, or a turn of several as one atomic save.

    A message whose id was recorded before records nothing and returns its original entry
    (200), so a retry is safe when the message, or the Idempotency-Key, carries the id.
    """
    expected = _expected_version(if_match)
    if isinstance(body, ProviderTurn):
        messages = _with_ids(_imported(body), idempotency_key, turn=True)
    elif isinstance(body, Turn):
        messages = _with_ids(list(body.messages), idempotency_key, turn=True)
    else:
        messages = _with_ids([body], idempotency_key, turn=False)
    # Only the ledger knows whether this call stored the message: concurrent retries all see
    # the same entry, and any version read around the call races with them.
    outcome = svc.ledger.record_outcome(conversation.ledger_id, messages, expected_version=expected)
    version = svc.ledger.version(conversation.ledger_id)
    if not outcome.stored:
        response.status_code = 200
    response.headers["ETag"] = f'"{version}"'
    return Recorded(conversation_id=conversation.id, version=version, entries=list(outcome.entries))


@router.get("/{conversation_id}/history", responses=PROBLEMS)
def history(
    response: Response,
    conversation: Annotated[Conversation, Depends(existing_conversation)],
    svc: Annotated[Service, Depends(service)],
    before: Annotated[
        int | None, Query(ge=1, le=MAX_POSITION, description="Only positions before this")
    ] = None,
    after: Annotated[
        int | None, Query(ge=0, le=MAX_POSITION, description="Only positions after this")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> HistoryPage:
    """Recorded messages, oldest first: the newest `limit` before `before`, or, with `after`,
    the oldest `limit` after it."""
    view = svc.ledger.history(conversation.ledger_id, before=before, after=after, limit=limit)
    entries = list(view.entries)
    first = entries[0].position if entries else None
    last = entries[-1].position if entries else None
    response.headers["ETag"] = f'"{view.length}"'
    return HistoryPage(
        conversation_id=conversation.id,
        length=view.length,
        entries=entries,
        older=first if first is not None and first > 1 else None,
        newer=last if last is not None and last < view.length else None,
    )


@router.get(
    "/{conversation_id}/attachments/{digest}",
    response_class=Response,
    responses={
        **PROBLEMS,
        200: {
            "content": {"application/octet-stream": {}},
            "description": "The attachment's bytes",
        },
        404: {"model": Problem, "description": "No such conversation or attachment"},
        410: {"model": Problem, "description": "The conversation was erased"},
    },
)
def attachment(
    digest: str,
    conversation: Annotated[Conversation, Depends(existing_conversation)],
    svc: Annotated[Service, Depends(service)],
) -> Response:
    """The bytes of one of the conversation's attachments, by the digest a part's
    `attachment` names in its history.

    Sent as `application/octet-stream`, for download: the media type the message states is
    the sender's word, and a browser must not run what it names (HTML, SVG) from this host.
    """
    data = svc.ledger.attachment(conversation.ledger_id, digest)
    return Response(
        data,
        media_type="application/octet-stream",
        headers={
            "Content-Disposition": f'attachment; filename="{digest}"',
            "X-Content-Type-Options": "nosniff",
            "ETag": f'"{digest}"',
        },
    )


def _expected_version(if_match: str | None) -> int | None:
    if if_match is None:
        return None
    matched = _IF_MATCH.fullmatch(if_match.strip())
    if matched is None or int(matched.group(1)) > MAX_POSITION:
        raise ProblemError(
            422,
            "invalid-input",
            f'must be the expected version, e.g. "3"; got {if_match[:40]!r}',
            field="If-Match",
        )
    return int(matched.group(1))


def _imported(body: ProviderTurn) -> list[Message]:
    """The messages of a provider's turn; an error names ``messages.N`` and the field."""
    try:
        return provider_messages(body.format, body.messages, system=body.system)
    except InvalidInput as exc:
        place, _, rest = exc.field.partition(".")
        if not place.isdigit():
            raise
        raise InvalidInput(f"messages.{place}.{rest}", exc.problem) from None


def _with_ids(messages: list[Message], key: str | None, *, turn: bool) -> list[Message]:
    """Messages that give no id take the Idempotency-Key's (numbered within a turn)."""
    if key is None:
        return messages
    if _IDEMPOTENCY_KEY.fullmatch(key) is None:
        raise InvalidInput(
            "Idempotency-Key", "must be 1-150 characters of letters, digits and . _ : @ -"
        )
    return [
        message
        if "id" in message.model_fields_set
        else Message(**{**dict(message), "id": f"{key}-{index}" if turn else key})
        for index, message in enumerate(messages)
    ]
