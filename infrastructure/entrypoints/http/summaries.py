"""Routes for summaries: list and record them, and compact with the server's summarizer."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from chatledger.domain import MAX_POSITION
from chatledger.infrastructure.entrypoints.http.access import Conversation, existing_conversation
from chatledger.infrastructure.entrypoints.http.bodies import JSONRoute
from chatledger.infrastructure.entrypoints.http.memory import RESPONSES
from chatledger.infrastructure.entrypoints.http.problems import Problem, ProblemError
from chatledger.infrastructure.entrypoints.http.schemas import (
    Compacted,
    CompactIn,
    SummaryIn,
    SummaryList,
)
from chatledger.infrastructure.entrypoints.http.service import Service, service
from chatledger.projections import Summary

router = APIRouter(prefix="/v1/conversations", tags=["summaries"], route_class=JSONRoute)


@router.get("/{conversation_id}/summaries", responses=RESPONSES)
def summaries(
    conversation: Annotated[Conversation, Depends(existing_conversation)],
    svc: Annotated[Service, Depends(service)],
    at: Annotated[
        int | None,
        Query(ge=0, le=MAX_POSITION, description="Only those recorded by this position"),
    ] = None,
) -> SummaryList:
    """The conversation's summaries, oldest first: what each covers, its text, its tokens."""
    found = svc.ledger.summaries(conversation.ledger_id, at=at)
    return SummaryList(conversation_id=conversation.id, summaries=found)


@router.post("/{conversation_id}/summaries", status_code=201, responses=RESPONSES)
def record_summary(
    body: SummaryIn,
    conversation: Annotated[Conversation, Depends(existing_conversation)],
    svc: Annotated[Service, Depends(service)],
) -> Summary:
    """Record a summary of messages 1..`covers`; history is unchanged, and older ones stay.

    422 naming `covers` when it is past the history, splits a tool exchange or ends inside an
    open one.
    """
    return svc.ledger.record_summary(
        conversation.ledger_id, covers=body.covers, text=body.text, model=body.model
    )


@router.post(
    "/{conversation_id}/compact",
    responses={
        **RESPONSES,
        201: {"model": Compacted, "description": "A summary was recorded"},
        501: {"model": Problem, "description": "This server has no summarizer"},
        502: {"model": Problem, "description": "The summarizer failed: nothing was recorded"},
    },
)
def compact(
    body: CompactIn,
    response: Response,
    conversation: Annotated[Conversation, Depends(existing_conversation)],
    svc: Annotated[Service, Depends(service)],
) -> Compacted:
    """Summarize what the summary window leaves out, with the server's summarizer.

    201 with the summary recorded; 200 with `null` when nothing is left out (or less than the
    policy's `compact_after_tokens`). If the summarizer fails, 502 and nothing is recorded.
    """
    if svc.summarizer is None:
        raise ProblemError(
            501,
            "no-summarizer",
            "this server has no summarizer: start it with --summarizer-base-url and "
            "--summarizer-model",
        )
    summary = svc.ledger.compact(
        conversation.ledger_id, svc.summarizer, body.policy, timeout=body.timeout
    )
    if summary is not None:
        response.status_code = 201
    return Compacted(summary=summary)
