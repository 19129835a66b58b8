"""The history page and its browser session: served at /, bound to a tenant by a cookie.

Opening the page stores nothing. A session starts when the browser signs in with an API key,
or, on a server that takes anonymous writes, when it starts its first conversation.
"""

from __future__ import annotations

import secrets
from dataclasses import replace
from datetime import UTC, datetime
from importlib import resources
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import HTMLResponse

from chatledger.domain import UnknownConversation
from chatledger.infrastructure.entrypoints.http.access import (
    Principal,
    authenticate,
    conversation_exists,
    identify,
    is_local,
    read_session,
)
from chatledger.infrastructure.entrypoints.http.bodies import JSONRoute
from chatledger.infrastructure.entrypoints.http.csrf import check_not_cross_site
from chatledger.infrastructure.entrypoints.http.problems import ProblemError
from chatledger.infrastructure.entrypoints.http.rate_limits import client_of
from chatledger.infrastructure.entrypoints.http.schemas import SessionOut, ShowConversation, SignIn
from chatledger.infrastructure.entrypoints.http.service import Service, service
from chatledger.infrastructure.entrypoints.http.sessions import COOKIE_NAME, Session, new_session_id
from chatledger.infrastructure.entrypoints.http.tenants import hash_key, key_id_of
from chatledger.infrastructure.entrypoints.tenancy import ledger_id

router = APIRouter(route_class=JSONRoute)

PAGE_HEADERS = {
    # Everything the page needs comes from this server; nothing may frame it.
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


@router.get("/", include_in_schema=False)
def page() -> Response:
    """The history page. It starts no session: signing in, or a first write, does."""
    html = (
        resources.files("chatledger.infrastructure.entrypoints.http")
        .joinpath("static/index.html")
        .read_text("utf-8")
    )
    return HTMLResponse(html, headers=PAGE_HEADERS)


session_router = APIRouter(prefix="/v1/session", tags=["browser session"], route_class=JSONRoute)


@session_router.get("")
def current_session(
    principal: Annotated[Principal | None, Depends(identify)],
    svc: Annotated[Service, Depends(service)],
) -> SessionOut:
    """The browser session: its tenant and the conversation its page shows.

    Without one, the 401 problem says in ``anonymous_writes`` whether this server lets the
    page start one by writing (POST /v1/session/conversations), or only by signing in; and in
    ``local_tenant`` which tenant the page may read without one (a loopback server's), if any.
    """
    if principal is None or principal.session is None:
        anonymous = svc.page_tenant is not None
        raise ProblemError(
            401,
            "unauthorized",
            "no browser session: sign in with an API key (POST /v1/session)"
            + (", or start a conversation (POST /v1/session/conversations)" if anonymous else ""),
            field="cookie",
            anonymous_writes=anonymous,
            local_tenant=principal.tenant if principal is not None and principal.local else None,
        )
    assert principal.session_id is not None
    return session_out(svc, principal.session_id, principal.session)


@session_router.post("")
def sign_in(
    body: SignIn, request: Request, response: Response, svc: Annotated[Service, Depends(service)]
) -> SessionOut:
    """Bind a new browser session to the tenant of an API key: it reaches all its conversations."""
    check_not_cross_site(request)
    client = client_of(request)
    svc.rates.authenticating(client)
    tenant = svc.tenants.tenant_for(body.api_key)
    if tenant is None:
        raise ProblemError(401, "unauthorized", "the API key is not valid", field="api_key")
    svc.rates.authenticated(client)
    svc.rates.write(client)  # a session-less write: the client's own budget
    old = read_session(svc, request.cookies.get(COOKIE_NAME))
    if old is not None:
        svc.sessions.delete(old[0])
    key_id = key_id_of(hash_key(body.api_key))
    session = Session(tenant=tenant, signed_in=True, key_id=key_id).started(new_conversation_id())
    return session_out(svc, start_session(request, response, svc, session), session)


@session_router.delete("", status_code=204)
def sign_out(
    principal: Annotated[Principal, Depends(authenticate)],
    svc: Annotated[Service, Depends(service)],
) -> Response:
    """Forget the browser session."""
    if principal.session_id is not None:
        svc.sessions.delete(principal.session_id)
    response = Response(status_code=204)
    response.delete_cookie(COOKIE_NAME, path="/")
    return response


@session_router.post("/conversations", status_code=201)
def start_conversation(
    request: Request,
    response: Response,
    principal: Annotated[Principal | None, Depends(identify)],
    svc: Annotated[Service, Depends(service)],
) -> SessionOut:
    """Start a new conversation and show it on the page.

    A browser without a session starts one here, its first write, if the server takes
    anonymous writes; else it must sign in first.
    """
    if principal is None:
        if svc.page_tenant is None:
            raise ProblemError(
                401,
                "unauthorized",
                "this server takes no anonymous writes: sign in with an API key "
                "(POST /v1/session), or send Authorization: Bearer <API key>",
                field="Authorization",
                headers={"WWW-Authenticate": "Bearer"},
            )
        check_not_cross_site(request)
        svc.rates.write(client_of(request))
        session = Session(tenant=svc.page_tenant).started(new_conversation_id())
        return session_out(svc, start_session(request, response, svc, session), session)
    session = _session(principal).started(new_conversation_id())
    assert principal.session_id is not None
    svc.sessions.put(principal.session_id, session)
    return session_out(svc, principal.session_id, session)


@session_router.put("/conversation")
def show_conversation(
    body: ShowConversation,
    principal: Annotated[Principal, Depends(authenticate)],
    svc: Annotated[Service, Depends(service)],
) -> SessionOut:
    """Show one of the session's conversations on the page."""
    session = _session(principal)
    known = body.conversation in session.conversations
    exists = conversation_exists(svc, ledger_id(session.tenant, body.conversation))
    if not known and not (session.signed_in and exists):
        raise UnknownConversation(body.conversation)
    session = (
        replace(session, current=body.conversation) if known else session.started(body.conversation)
    )
    assert principal.session_id is not None
    svc.sessions.put(principal.session_id, session)
    return session_out(svc, principal.session_id, session)


def start_session(request: Request, response: Response, svc: Service, session: Session) -> str:
    """Store a new session and set its cookie on the response; return the session's id."""
    session_id = new_session_id()
    svc.sessions.put(session_id, session)
    secure = svc.secure_cookies if svc.secure_cookies is not None else not is_local(request)
    # No Max-Age: the cookie lasts while the browser is open.
    response.set_cookie(
        COOKIE_NAME,
        svc.signer.sign(session_id),
        httponly=True,
        samesite="lax",
        secure=secure,
        path="/",
    )
    return session_id


def new_conversation_id() -> str:
    """A fresh conversation id, sortable by when it began."""
    return f"chat-{datetime.now(UTC):%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"


def session_out(svc: Service, session_id: str, session: Session) -> SessionOut:
    """The session as JSON, with the CSRF token its page sends back with each write."""
    return SessionOut(
        tenant=session.tenant,
        conversation=session.current,
        conversations=list(session.conversations),
        signed_in=session.signed_in,
        csrf_token=svc.signer.csrf_token(session_id),
    )


def _session(principal: Principal) -> Session:
    if principal.session is None:
        raise ProblemError(
            401,
            "unauthorized",
            "this needs a browser session: sign in on the page at / first",
            field="cookie",
        )
    return principal.session
