"""Routes for the audit trail: model calls recorded and replayed, verification, erasure."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path

from chatledger.domain import MAX_POSITION, InvalidInput
from chatledger.infrastructure.entrypoints.http.access import Conversation, existing_conversation
from chatledger.infrastructure.entrypoints.http.bodies import JSONRoute
from chatledger.infrastructure.entrypoints.http.memory import RESPONSES, memory_out
from chatledger.infrastructure.entrypoints.http.schemas import (
    BreakOut,
    ErasedOut,
    EraseIn,
    ModelCallIn,
    ModelCallOut,
    ReplayOut,
    VerifiedOut,
)
from chatledger.infrastructure.entrypoints.http.service import Service, service

router = APIRouter(prefix="/v1/conversations", tags=["audit"], route_class=JSONRoute)


@router.post("/{conversation_id}/model-calls", status_code=201, responses=RESPONSES)
def record_model_call(
    call: ModelCallIn,
    conversation: Annotated[Conversation, Depends(existing_conversation)],
    svc: Annotated[Service, Depends(service)],
) -> ModelCallOut:
    """Record that the memory view at `position` under `policy` was sent to `model`."""
    view = svc.ledger.memory(conversation.ledger_id, call.policy, at=call.position)
    recorded = svc.ledger.record_model_call(
        conversation.ledger_id,
        view,
        model=call.model,
        usage=call.usage,
        response_id=call.response_id,
    )
    return ModelCallOut.of(recorded)


@router.get("/{conversation_id}/model-calls", responses=RESPONSES)
def model_calls(
    conversation: Annotated[Conversation, Depends(existing_conversation)],
    svc: Annotated[Service, Depends(service)],
) -> list[ModelCallOut]:
    """The model calls recorded for the conversation, oldest first."""
    return [ModelCallOut.of(call) for call in svc.ledger.model_calls(conversation.ledger_id)]


@router.get("/{conversation_id}/model-calls/{number}/replay", responses=RESPONSES)
def replay_model_call(
    number: Annotated[int, Path(ge=1, le=MAX_POSITION)],
    conversation: Annotated[Conversation, Depends(existing_conversation)],
    svc: Annotated[Service, Depends(service)],
) -> ReplayOut:
    """Rebuild a model call's view from history and say whether it is what was recorded."""
    try:
        replay = svc.ledger.replay_model_call(conversation.ledger_id, number)
    except InvalidInput as exc:
        # The ledger's message names the conversation by its ledger id: keep it in-tenant.
        raise InvalidInput("number", f"there is no model call {number}") from exc
    return ReplayOut(
        call=ModelCallOut.of(replay.call),
        identical=replay.identical,
        differences=list(replay.differences),
        view=memory_out(conversation.id, replay.view),
    )


@router.get("/{conversation_id}/verify", responses=RESPONSES)
def verify(
    conversation: Annotated[Conversation, Depends(existing_conversation)],
    svc: Annotated[Service, Depends(service)],
) -> VerifiedOut:
    """Recompute the conversation's hash chain from the stored rows; list every break."""
    verified = svc.ledger.verify(conversation.ledger_id)
    return VerifiedOut(
        conversation_id=conversation.id,
        intact=verified.intact,
        length=verified.length,
        head=verified.head,
        breaks=[BreakOut(position=b.position, problem=b.problem) for b in verified.breaks],
    )


@router.post("/{conversation_id}/erase", responses=RESPONSES)
def erase(
    body: EraseIn,
    conversation: Annotated[Conversation, Depends(existing_conversation)],
    svc: Annotated[Service, Depends(service)],
) -> ErasedOut:
    """Crypto-shred the conversation's text for good; its trail stays and still verifies."""
    erased_at = svc.ledger.erase(conversation.ledger_id, reason=body.reason)
    return ErasedOut(conversation_id=conversation.id, erased_at=erased_at)
