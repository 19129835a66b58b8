"""The HTTP service: a JSON API over the ledger, tenants with API keys, and the history page."""

from infrastructure.http.app import create_app
from infrastructure.http.serve import serve_main, tenant_main
from infrastructure.http.sessions import (
    InMemorySessionStore,
    Session,
    SessionStore,
    SQLSessionStore,
)
from infrastructure.http.tenants import (
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
