"""Who is asking: a tenant's API key (Bearer) or a browser session; and what they may reach.

Anything a caller may not reach answers 404, exactly as a conversation that does not exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer

from chatledger.domain import UnknownConversation
from chatledger.infrastructure.entrypoints.http.csrf import check_cookie_write
from chatledger.infrastructure.entrypoints.http.problems import ProblemError
from chatledger.infrastructure.entrypoints.http.rate_limits import client_of, writer
from chatledger.infrastructure.entrypoints.http.service import Service, service
from chatledger.infrastructure.entrypoints.http.sessions import COOKIE_NAME, Session
from chatledger.infrastructure.entrypoints.tenancy import CONVERSATION_ID, ledger_id

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
"""Methods that change nothing: every other one is a write."""

_bearer = HTTPBearer(auto_error=False, description="A tenant's API key: `chatledger tenant add`")
_cookie = APIKeyCookie(
    name=COOKIE_NAME,
    auto_error=False,
    description="A browser session, started by signing in or by its first write",
)


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: a tenant, through its API key or a browser session."""

    tenant: str
    session_id: str | None = None
    session: Session | None = None
    local: bool = False
    """A read on a loopback server with neither key nor session: the local tenant's."""

    def reaches(self, conversation: str) -> bool:
        """Whether the caller may read or write the tenant's ``conversation``."""
        return self.session is None or self.session.reaches(conversation)


def read_session(svc: Service, cookie: str | None) -> tuple[str, Session] | None:
    """The session a cookie names, if its signature checks, it is live and its key not revoked."""
    if not cookie:
        return None
    session_id = svc.signer.unsign(cookie)
    if session_id is None:
        return None
    session = svc.sessions.get(session_id)
    if session is None:
        return None
    if session.key_id is not None and not svc.tenants.has_key(session.key_id):
        # The key that signed the session in was revoked: so is the session.
        svc.sessions.delete(session_id)
        return None
    return session_id, session


def identify(
    request: Request,
    svc: Annotated[Service, Depends(service)],
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    cookie: Annotated[str | None, Depends(_cookie)],
) -> Principal | None:
    """The caller, by API key first, else by session cookie; None when neither is sent.

    A key that is not valid is 401; a cookie that is not valid is ignored, as if not sent.
    With neither, a read from loopback to a loopback host name is the local tenant's, when
    the server has one (a DNS-rebinding page names another host, so it gets nothing).
    A write the cookie authenticates must pass the CSRF check (403 otherwise). A client
    past its failed authentications, or a credential past its writes, gets 429.
    """
    write = request.method not in SAFE_METHODS
    if bearer is not None:
        client = client_of(request)
        svc.rates.authenticating(client)
        tenant = svc.tenants.tenant_for(bearer.credentials)
        if tenant is None:
            raise _unauthorized(
                "the API key is not valid", 'Bearer error="invalid_token"', field="Authorization"
            )
        svc.rates.authenticated(client)
        if write:
            svc.rates.write(writer("key", bearer.credentials))
        return Principal(tenant)
    found = read_session(svc, cookie)
    if found is None:
        if (
            svc.local_tenant is not None
            and not write
            and is_local(request)
            and _from_loopback(request)
        ):
            return Principal(svc.local_tenant, local=True)
        return None
    session_id, session = found
    if write:
        check_cookie_write(request, svc.signer, session_id)
        svc.rates.write(writer("session", session_id))
    return Principal(session.tenant, session_id, session)


def authenticate(
    principal: Annotated[Principal | None, Depends(identify)],
    request: Request,
    svc: Annotated[Service, Depends(service)],
) -> Principal:
    """The caller, by API key first, else by session cookie; 401 naming what is missing."""
    if principal is not None:
        return principal
    if request.method in SAFE_METHODS:
        detail = "send Authorization: Bearer <API key>, or sign in on the page at /"
    elif svc.page_tenant is None:
        detail = (
            "this server takes no anonymous writes: send Authorization: Bearer <API key>, "
            "or sign in on the page at /"
        )
    else:
        detail = (
            "send Authorization: Bearer <API key>, "
            "or start a page session first: POST /v1/session/conversations"
        )
    raise _unauthorized(detail, "Bearer", field="Authorization")


@dataclass(frozen=True)
class Conversation:
    """A conversation the caller named: the tenant's id and the ledger's."""

    principal: Principal
    id: str
    ledger_id: str


ConversationIdPath = Annotated[
    str,
    Path(
        pattern=CONVERSATION_ID,
        max_length=100,
        description="The conversation's id within the tenant: 1-100 of A-Z a-z 0-9 . _ -",
    ),
]


def named_conversation(
    conversation_id: ConversationIdPath,
    principal: Annotated[Principal, Depends(authenticate)],
) -> Conversation:
    """The conversation in the path, if the caller may reach it (it may not exist yet)."""
    if not principal.reaches(conversation_id):
        raise UnknownConversation(conversation_id)
    return Conversation(principal, conversation_id, ledger_id(principal.tenant, conversation_id))


def existing_conversation(
    conversation: Annotated[Conversation, Depends(named_conversation)],
    svc: Annotated[Service, Depends(service)],
) -> Conversation:
    """The conversation in the path, which must exist and be the caller's; else 404."""
    if not conversation_exists(svc, conversation.ledger_id):
        raise UnknownConversation(conversation.id)
    return conversation


def conversation_exists(svc: Service, conversation_id: str) -> bool:
    """Whether the ledger's conversation holds a message or is a branch (one forked at 0 may
    hold none yet)."""
    if svc.ledger.version(conversation_id) > 0:
        return True
    try:
        svc.ledger.branches(conversation_id)
    except UnknownConversation:
        return False
    return True


def _unauthorized(detail: str, challenge: str, field: str | None = None) -> ProblemError:
    return ProblemError(
        401, "unauthorized", detail, field=field, headers={"WWW-Authenticate": challenge}
    )


def is_local(request: Request) -> bool:
    """Whether the request came to a loopback host name (cookies need no Secure flag there)."""
    return (request.url.hostname or "") in {"localhost", "127.0.0.1", "::1", "[::1]"}


_LOOPBACK_ADDRESSES = frozenset({"127.0.0.1", "::1"})


def _from_loopback(request: Request) -> bool:
    # A proxy on this machine connects from loopback too: what it forwards is not local.
    forwarded = "forwarded" in request.headers or "x-forwarded-for" in request.headers
    return (
        not forwarded and request.client is not None and request.client.host in _LOOPBACK_ADDRESSES
    )
