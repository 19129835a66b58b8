"""The HTTP service: a JSON API over the ledger, tenants with API keys, and the history page."""

from chatledger.infrastructure.entrypoints.http.app import create_app
from chatledger.infrastructure.entrypoints.http.serve import serve_main, tenant_main
from chatledger.infrastructure.entrypoints.http.sessions import (
    InMemorySessionStore,
    Session,
    SessionStore,
    SQLSessionStore,
)
from chatledger.infrastructure.entrypoints.http.tenants import (
    InMemoryTenantDirectory,
    SQLTenantDirectory,
    TenantDirectory,
    add_tenant,
    tenant_directory,
)

__all__ = [
    "InMemorySessionStore",
    "InMemoryTenantDirectory",
    "SQLSessionStore",
    "SQLTenantDirectory",
    "Session",
    "SessionStore",
    "TenantDirectory",
    "add_tenant",
    "create_app",
    "serve_main",
    "tenant_directory",
    "tenant_main",
]
