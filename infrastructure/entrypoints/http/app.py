"""The FastAPI app: the JSON API under /v1, the history page at /, problems for every error."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, FastAPI
from fastapi.staticfiles import StaticFiles

from chatledger.domain import Summarizer
from chatledger.infrastructure.entrypoints.http import (
    audit,
    branches,
    conversations,
    memory,
    memory_changes,
    page,
    problems,
    summaries,
)
from chatledger.infrastructure.entrypoints.http.limits import (
    DEFAULT_MAX_BODY_BYTES,
    BodyLimit,
    record_body_bytes,
)
from chatledger.infrastructure.entrypoints.http.rate_limits import (
    DEFAULT_AUTH_FAILURES_PER_MINUTE,
    DEFAULT_WRITES_PER_SECOND,
    RateLimits,
)
from chatledger.infrastructure.entrypoints.http.schemas import Health
from chatledger.infrastructure.entrypoints.http.service import Service, service
from chatledger.infrastructure.entrypoints.http.sessions import (
    CookieSigner,
    InMemorySessionStore,
    SQLSessionStore,
)
from chatledger.infrastructure.entrypoints.http.tenants import TenantDirectory
from chatledger.infrastructure.entrypoints.tenancy import check_tenant_name
from chatledger.infrastructure.ledger import ChatLedger

DESCRIPTION = """\
A conversation store for LLM apps: every message an immutable event, every view a projection.

Authenticate with `Authorization: Bearer <API key>` (`chatledger tenant add NAME` makes one), or
with the browser session cookie that signing in (`POST /v1/session`) sets; on a server that
takes anonymous writes, a browser's first write (`POST /v1/session/conversations`) sets one too.
Opening the page (`GET /`) starts no session. A write the cookie authenticates must come from
this server's own page: `Origin` (else `Referer`) naming this host, and `X-CSRF-Token` carrying
the session's `csrf_token`; else 403. Past the rate limits on failed authentications (per
client) and on writes (per API key or session), 429 with `Retry-After`. Errors are
`application/problem+json` (RFC 9457); invalid input names the offending `field`.
"""


def create_app(
    ledger: ChatLedger,
    *,
    tenants: TenantDirectory,
    session_secret: bytes,
    secure_cookies: bool | None = None,
    page_tenant: str | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    max_record_body_bytes: int | None = None,
    auth_failures_per_minute: int | None = DEFAULT_AUTH_FAILURES_PER_MINUTE,
    writes_per_second: int | None = DEFAULT_WRITES_PER_SECOND,
    local_tenant: str | None = None,
    summarizer: Summarizer | None = None,
) -> FastAPI:
    """The HTTP service over ``ledger``.

    Writes need an API key or a browser session; sessions start only on signing in or, with
    ``page_tenant``, on a browser's first write, never on opening the page. A write the
    session cookie authenticates must come from this server's page (Origin or Referer, and
    the session's X-CSRF-Token), else 403. Failed authentications and writes are rate
    limited (429, Retry-After). There is no /docs page; the schema is at /openapi.json. A
    message write is 201 only for the request that stored it, 200 for every retry.
    SECURITY.md beside this module says more.

    Args:
        tenants: whose API keys are accepted.
        session_secret: signs session cookies (at least 16 bytes; keep it across restarts to
            keep sessions).
        secure_cookies: mark cookies Secure; None marks them on every host but localhost.
        page_tenant: lets browsers write without an API key (anonymous writes): a browser's
            first write, starting a conversation, starts a session in this tenant. None (the
            default) takes no anonymous writes: they are 401, and the page asks for a key.
        max_body_bytes: larger request bodies get 413 before anything parses them.
        max_record_body_bytes: the same for the bodies that record messages, which may carry
            attachments; None: room for one at the ledger's ``max_attachment_bytes``, in
            base64, and ``max_body_bytes`` more.
        auth_failures_per_minute: failed authentications (bad API keys, sign-in guesses) a
            client address may make a minute; past it every authentication it tries is 429
            with Retry-After, good keys included. None: no limit.
        writes_per_second: writes an API key or a browser session may make a second (and a
            client address, for the writes that start sessions); past it 429 with
            Retry-After. None: no limit.
        local_tenant: lets requests with neither a key nor a session *read* (GET, HEAD) this
            tenant's conversations when they come from a loopback address to a loopback host
            name; for a server bound to loopback only (`chatledger serve` checks). Writes
            are unchanged. None (the default): every read needs a key or a session.
        summarizer: what `POST /v1/conversations/{id}/compact` summarizes with (an
            ``OpenAISummarizer``, say); None (the default): that route answers 501.
    """
    for tenant in (page_tenant, local_tenant):
        if tenant is not None:
            check_tenant_name(tenant)
    tables = ledger.tables
    app = FastAPI(
        title="chatledger",
        version="1",
        description=DESCRIPTION,
        # FastAPI's docs pages load their scripts from a public CDN at a floating version:
        # nothing this service serves may run code from another host. The schema stays.
        docs_url=None,
        redoc_url=None,
    )
    app.state.service = Service(
        ledger=ledger,
        tenants=tenants,
        sessions=InMemorySessionStore() if tables is None else SQLSessionStore(tables),
        signer=CookieSigner(session_secret),
        secure_cookies=secure_cookies,
        page_tenant=page_tenant,
        rates=RateLimits(
            auth_failures_per_minute=auth_failures_per_minute, writes_per_second=writes_per_second
        ),
        local_tenant=local_tenant,
        summarizer=summarizer,
    )
    problems.install(app)
    if max_record_body_bytes is None:
        max_record_body_bytes = record_body_bytes(
            ledger.limits.max_attachment_bytes, max_body_bytes
        )
    app.add_middleware(BodyLimit, max_bytes=max_body_bytes, max_record_bytes=max_record_body_bytes)
    for router in (
        conversations.router,
        memory.router,
        memory_changes.router,
        summaries.router,
        branches.router,
        audit.router,
        page.session_router,
        page.router,
    ):
        app.include_router(router)
    app.mount(
        "/static",
        StaticFiles(packages=[("chatledger.infrastructure.entrypoints.http", "static")]),
        name="static",
    )

    @app.get("/healthz", tags=["service"])
    def healthz(svc: Annotated[Service, Depends(service)]) -> Health:
        """The service is up and its store answers."""
        svc.ledger.conversations(limit=1)
        return Health(backend=svc.ledger.backend)

    return app
