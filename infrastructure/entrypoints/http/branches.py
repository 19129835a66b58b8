"""Routes for conversations as trees: fork, edit, regenerate, and the branches and siblings.

Ids are the tenant's own, as everywhere in the API: a branch is named in its parent's tenant,
and a listing shows only the conversations the caller may reach. A branch a page session makes
becomes one of the conversations that session reaches.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from chatledger.domain import MAX_POSITION, Branch, InvalidInput
from chatledger.infrastructure.entrypoints.http.access import (
    Conversation,
    Principal,
    existing_conversation,
)
from chatledger.infrastructure.entrypoints.http.bodies import JSONRoute
from chatledger.infrastructure.entrypoints.http.memory import RESPONSES
from chatledger.infrastructure.entrypoints.http.problems import Problem
from chatledger.infrastructure.entrypoints.http.schemas import (
    BranchList,
    BranchOut,
    EditIn,
    ForkIn,
    RegenerateIn,
    SiblingList,
    SiblingOut,
)
from chatledger.infrastructure.entrypoints.http.service import Service, service
from chatledger.infrastructure.entrypoints.tenancy import external_id, ledger_id

router = APIRouter(prefix="/v1/conversations", tags=["branches"], route_class=JSONRoute)

MADE: dict[int | str, dict[str, object]] = {
    **RESPONSES,
    201: {"model": BranchOut, "description": "The new branch"},
}
EDITED: dict[int | str, dict[str, object]] = {
    **MADE,
    409: {
        "model": Problem,
        "description": "The message's id is in the shared prefix with other content",
    },
}


@router.post("/{conversation_id}/fork", status_code=201, responses=MADE)
def fork(
    body: ForkIn,
    response: Response,
    conversation: Annotated[Conversation, Depends(existing_conversation)],
    svc: Annotated[Service, Depends(service)],
) -> BranchOut:
    """Begin a branch sharing the conversation's messages 1..`at`; its own follow at `at`+1.

    Nothing is copied, and the conversation is unchanged. 422 naming `at` past the history,
    or `new_id` when it names a conversation already.
    """
    branch = svc.ledger.fork(
        conversation.ledger_id, at=body.at, new_id=_new_id(conversation, body.new_id)
    )
    return _made(svc, conversation, branch, response)


@router.post("/{conversation_id}/edit", status_code=201, responses=EDITED)
def edit(
    body: EditIn,
    response: Response,
    conversation: Annotated[Conversation, Depends(existing_conversation)],
    svc: Annotated[Service, Depends(service)],
) -> BranchOut:
    """Record `message` in place of the one at `position`, on a new branch forked just before.

    The conversation keeps its own message; the branch holds messages 1..`position`-1, then
    this one. 422 naming `position` past the history, or the message's field; the message is
    checked before the fork, so a refused one leaves no branch.
    """
    branch = svc.ledger.edit(
        conversation.ledger_id,
        body.position,
        body.message,
        new_id=_new_id(conversation, body.new_id),
    )
    return _made(svc, conversation, branch, response)


@router.post("/{conversation_id}/regenerate", status_code=201, responses=MADE)
def regenerate(
    body: RegenerateIn,
    response: Response,
    conversation: Annotated[Conversation, Depends(existing_conversation)],
    svc: Annotated[Service, Depends(service)],
) -> BranchOut:
    """A new branch forked just before `position`, for another reply to be recorded there."""
    branch = svc.ledger.regenerate(
        conversation.ledger_id, body.position, new_id=_new_id(conversation, body.new_id)
    )
    return _made(svc, conversation, branch, response)


@router.get("/{conversation_id}/branches", responses=RESPONSES)
def branches(
    conversation: Annotated[Conversation, Depends(existing_conversation)],
    svc: Annotated[Service, Depends(service)],
) -> BranchList:
    """The conversation's tree: the root first, then each branch in creation order, with its
    parent, fork point and length (only the conversations the caller may reach)."""
    tree = svc.ledger.branches(conversation.ledger_id)
    principal = conversation.principal
    shown = [out for b in tree if (out := _branch_out(principal, b)) is not None]
    return BranchList(conversation_id=conversation.id, branches=shown)


@router.get("/{conversation_id}/siblings", responses=RESPONSES)
def siblings(
    conversation: Annotated[Conversation, Depends(existing_conversation)],
    svc: Annotated[Service, Depends(service)],
    position: Annotated[
        int, Query(ge=1, le=MAX_POSITION, description="The position to list alternatives at")
    ],
) -> SiblingList:
    """The alternatives at `position`: each branch holding its own message there (or waiting
    for one), in creation order, numbered for a "< 2/3 >" switcher, `current` the one this
    conversation shows. 422 naming `position` past the history and the next one."""
    found = svc.ledger.siblings(conversation.ledger_id, position)
    principal = conversation.principal
    reachable = [
        (own, sibling)
        for sibling in found
        if (own := _reachable_id(principal, sibling.conversation_id)) is not None
    ]
    return SiblingList(
        conversation_id=conversation.id,
        position=position,
        siblings=[
            SiblingOut(
                number=number,
                conversation_id=own,
                created_at=sibling.created_at,
                current=sibling.current,
            )
            for number, (own, sibling) in enumerate(reachable, start=1)
        ],
    )


def _new_id(conversation: Conversation, new_id: str | None) -> str | None:
    """The ledger's id for the branch the caller names, in the caller's tenant."""
    if new_id is None:
        return None
    session = conversation.principal.session
    if session is not None and not session.signed_in:
        # Its answer would tell a page session which of its tenant's ids are taken.
        raise InvalidInput(
            "new_id", "a page session that did not sign in cannot name a branch: leave it out"
        )
    return ledger_id(conversation.principal.tenant, new_id)


def _made(svc: Service, conversation: Conversation, branch: str, response: Response) -> BranchOut:
    """The new branch as the caller sees it; a page session may reach it from now on."""
    principal = conversation.principal
    own = external_id(principal.tenant, branch)
    assert own is not None  # named in the caller's tenant, by the ledger or by _new_id
    session = principal.session
    if session is not None and principal.session_id is not None and not session.reaches(own):
        reaching = replace(session, conversations=(*session.conversations, own))
        svc.sessions.put(principal.session_id, reaching)
    response.headers["Location"] = f"/v1/conversations/{own}/history"
    made = next(b for b in svc.ledger.branches(branch) if b.conversation_id == branch)
    return BranchOut(
        conversation_id=own,
        parent=conversation.id,
        fork_point=made.fork_point,
        length=made.length,
        created_at=made.created_at,
    )


def _reachable_id(principal: Principal, conversation_id: str) -> str | None:
    """The tenant's own id of a ledger conversation the caller may reach, else None."""
    own = external_id(principal.tenant, conversation_id)
    return own if own is not None and principal.reaches(own) else None


def _branch_out(principal: Principal, branch: Branch) -> BranchOut | None:
    own = _reachable_id(principal, branch.conversation_id)
    if own is None:
        return None
    return BranchOut(
        conversation_id=own,
        parent=None if branch.parent is None else _reachable_id(principal, branch.parent),
        fork_point=branch.fork_point,
        length=branch.length,
        created_at=branch.created_at,
    )
