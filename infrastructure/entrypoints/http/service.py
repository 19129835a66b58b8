"""What every route needs, held by the app: the ledger, tenants, sessions and settings."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from chatledger.domain import Summarizer
from chatledger.infrastructure.entrypoints.http.rate_limits import RateLimits
from chatledger.infrastructure.entrypoints.http.sessions import CookieSigner, SessionStore
from chatledger.infrastructure.entrypoints.http.tenants import TenantDirectory
from chatledger.infrastructure.ledger import ChatLedger


@dataclass(frozen=True)
class Service:
    """The app's collaborators, built once by ``create_app``."""

    ledger: ChatLedger
    tenants: TenantDirectory
    sessions: SessionStore
    signer: CookieSigner
    secure_cookies: bool | None
    """None: Secure on every host but localhost."""
    page_tenant: str | None
    """The tenant of anonymous page sessions (anonymous writes); None: none are taken."""
    rates: RateLimits
    local_tenant: str | None = None
    """The tenant a loopback server's page reads without a key or session; None: none."""
    summarizer: Summarizer | None = None
    """What ``POST .../compact`` summarizes with; None: the route answers 501."""


def service(request: Request) -> Service:
    """The app's service (a FastAPI dependency)."""
    found: Service = request.app.state.service
    return found
