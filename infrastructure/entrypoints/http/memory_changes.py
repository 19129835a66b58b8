"""Routes for memory changes: clear memory, retract a message, list the changes; history stays."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from chatledger.domain import MAX_POSITION, MemoryChange
from chatledger.infrastructure.entrypoints.http.access import Conversation, existing_conversation
from chatledger.infrastructure.entrypoints.http.bodies import JSONRoute
from chatledger.infrastructure.entrypoints.http.memory import RESPONSES
from chatledger.infrastructure.entrypoints.http.problems import ProblemError
from chatledger.infrastructure.entrypoints.http.schemas import MemoryChangeList, RetractIn
from chatledger.infrastructure.entrypoints.http.service import Service, service

router = APIRouter(prefix="/v1/conversations", tags=["memory"], route_class=JSONRoute)


@router.get("/{conversation_id}/memory-changes", responses=RESPONSES)
def memory_changes(
    conversation: Annotated[Conversation, Depends(existing_conversation)],
    svc: Annotated[Service, Depends(service)],
    at: Annotated[
        int | None,
        Query(ge=0, le=MAX_POSITION, description="Only those recorded by this position"),
    ] = None,
) -> MemoryChangeList:
    """The conversation's clears and retractions, oldest first."""
    found = svc.ledger.memory_changes(conversation.ledger_id, at=at)
    return MemoryChangeList(conversation_id=conversation.id, changes=found)


@router.post("/{conversation_id}/clear", responses=RESPONSES)
def clear(
    conversation: Annotated[Conversation, Depends(existing_conversation)],
    svc: Annotated[Service, Depends(service)],
) -> MemoryChange:
    """Start the model's memory afresh; the history keeps every message.

    Later memory views hold only the system prompt in force and what is recorded after. Answers
    the clear in force: clearing again with nothing recorded since records nothing and answers
    the same clear, so a retry is safe.
    """
    change = svc.ledger.clear(conversation.ledger_id)
    if change is None:  # a branch forked at 0, before its first message
        raise ProblemError(
            409, "nothing-to-clear", "the conversation holds no message yet: nothing to clear"
        )
    return change


@router.post("/{conversation_id}/retract", responses=RESPONSES)
def retract(
    body: RetractIn,
    conversation: Annotated[Conversation, Depends(existing_conversation)],
    svc: Annotated[Service, Depends(service)],
) -> MemoryChange:
    """Take the message at `position` (its whole tool exchange) out of every later memory view.

    The history keeps it. Retracting what a change already took out records nothing and
    answers that change. 422 naming `position` when it is past the history or holds an
    instruction (a system or developer message: record a new one to replace it).
    """
    return svc.ledger.retract(conversation.ledger_id, body.position)
