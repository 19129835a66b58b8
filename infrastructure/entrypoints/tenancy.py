"""Tenants' conversation ids in the ledger: the HTTP service and the command line share them.

Every conversation belongs to one tenant: a tenant's conversation ``X`` is the ledger's
conversation ``"{tenant}:{X}"``. Tenant names and external ids admit no ``:``, so no id a tenant
sends can name a conversation outside its own prefix.
"""

from __future__ import annotations

import re

from chatledger.domain import InvalidInput

TENANT_VARIABLE = "CHATLEDGER_TENANT"
"""The tenant the command line works in when not given --tenant."""
TENANT_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,39}")
CONVERSATION_ID = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"
"""The conversation ids the HTTP API accepts (a pattern for the OpenAPI schema too)."""

_CONVERSATION = re.compile(CONVERSATION_ID)


def check_tenant_name(name: object) -> str:
    """Return the name if it is a valid tenant name, else raise InvalidInput."""
    if not isinstance(name, str) or TENANT_NAME.fullmatch(name) is None:
        raise InvalidInput(
            "tenant",
            "must be 1-40 lowercase letters, digits and -, starting with a letter or digit; "
            f"got {str(name)[:60]!r}",
        )
    return name


def ledger_id(tenant: str, conversation: str) -> str:
    """The ledger's id of a tenant's conversation."""
    if _CONVERSATION.fullmatch(conversation) is None:
        raise InvalidInput(
            "conversation_id",
            "must be 1-100 letters, digits and . _ -, starting with a letter or digit; "
            f"got {conversation[:60]!r}",
        )
    return f"{check_tenant_name(tenant)}:{conversation}"


def external_id(tenant: str, conversation_id: str) -> str | None:
    """The tenant's own id of a ledger conversation, or None if it is not the tenant's."""
    prefix = f"{tenant}:"
    return conversation_id[len(prefix) :] if conversation_id.startswith(prefix) else None
