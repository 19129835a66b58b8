"""`chatledger serve` and `chatledger tenant add`: run the HTTP service, give tenants keys."""

from __future__ import annotations

import argparse
import os
import secrets
import sys
from collections.abc import Sequence

from chatledger.domain import ChatLedgerError, InvalidInput
from chatledger.infrastructure.entrypoints.http.app import create_app
from chatledger.infrastructure.entrypoints.http.limits import DEFAULT_MAX_BODY_BYTES
from chatledger.infrastructure.entrypoints.http.rate_limits import (
    DEFAULT_AUTH_FAILURES_PER_MINUTE,
    DEFAULT_WRITES_PER_SECOND,
)
from chatledger.infrastructure.entrypoints.http.tenants import add_tenant, tenant_directory
from chatledger.infrastructure.ledger import ChatLedger
from chatledger.infrastructure.storage.backends import database_url

SESSION_SECRET_VARIABLE = "CHATLEDGER_SESSION_SECRET"
DEFAULT_PAGE_TENANT = "web"
OK, FAILED, BAD_INPUT = 0, 1, 2
SECURITY_NOTES = """\
security (infrastructure/entrypoints/http/SECURITY.md has the details):
  - writes need an API key or a signed-in browser session, unless --allow-anonymous-writes;
    opening the page starts no session: signing in, or an anonymous first write, does
  - writes the session cookie makes must send Origin (or Referer) naming this host and the
    session's X-CSRF-Token (GET /v1/session); API-key requests need neither
  - 429 with Retry-After past the failed authentications a client may make a minute and
    the writes a key or session may make a second
  - no /docs page (it would load scripts from a CDN); the schema is at /openapi.json
"""


def serve_main(argv: Sequence[str] | None = None) -> int:
    """Run `chatledger serve [--db URL] [--host H] [--port P] ...`; return the exit code."""
    parser = argparse.ArgumentParser(
        prog="chatledger serve",
        description="Serve the HTTP API and the history page.",
        epilog=SECURITY_NOTES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--db", metavar="URL", help="database URL (default: ./chatledger.db)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8000, help="port to listen on")
    parser.add_argument(
        "--allow-anonymous-writes",
        action="store_true",
        help="let browsers without an API key write: the page then starts sessions of its own, "
        "in the --page-tenant tenant, on its first write. Off by default, on every host: "
        "without it a write with no API key or signed-in session is 401",
    )
    parser.add_argument(
        "--page-tenant",
        metavar="NAME",
        help=f"tenant of anonymous page sessions, with --allow-anonymous-writes "
        f"(default: {DEFAULT_PAGE_TENANT!r})",
    )
    parser.add_argument(
        "--secure-cookies",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="mark cookies Secure (default: on every host but localhost)",
    )
    parser.add_argument(
        "--max-body-bytes", type=int, default=DEFAULT_MAX_BODY_BYTES, help="413 past this"
    )
    parser.add_argument(
        "--auth-failures-per-minute",
        type=int,
        metavar="N",
        default=DEFAULT_AUTH_FAILURES_PER_MINUTE,
        help="failed authentications a client address may make a minute, then 429 "
        "(default: %(default)s; 0: no limit)",
    )
    parser.add_argument(
        "--writes-per-second",
        type=int,
        metavar="N",
        default=DEFAULT_WRITES_PER_SECOND,
        help="writes an API key or browser session may make a second, then 429 "
        "(default: %(default)s; 0: no limit)",
    )
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else BAD_INPUT
    if args.page_tenant is not None and not args.allow_anonymous_writes:
        print("chatledger serve: --page-tenant needs --allow-anonymous-writes", file=sys.stderr)
        return BAD_INPUT
    import uvicorn

    page_tenant = (args.page_tenant or DEFAULT_PAGE_TENANT) if args.allow_anonymous_writes else None
    try:
        ledger = ChatLedger.open(database_url(args.db))
        app = create_app(
            ledger,
            tenants=tenant_directory(ledger),
            session_secret=session_secret(),
            secure_cookies=args.secure_cookies,
            page_tenant=page_tenant,
            max_body_bytes=args.max_body_bytes,
            auth_failures_per_minute=args.auth_failures_per_minute or None,
            writes_per_second=args.writes_per_second or None,
        )
    except InvalidInput as exc:
        print(f"chatledger serve: {exc.field}: {exc.problem}", file=sys.stderr)
        return BAD_INPUT
    except ChatLedgerError as exc:
        print(f"chatledger serve: {exc}", file=sys.stderr)
        return FAILED
    try:
        uvicorn.run(app, host=args.host, port=args.port, log_level="info")
    finally:
        ledger.close()
    return OK


def tenant_main(argv: Sequence[str] | None = None) -> int:
    """Run `chatledger tenant add NAME [--db URL]`: print a new API key for the tenant once."""
    parser = argparse.ArgumentParser(prog="chatledger tenant", description="Manage tenants.")
    commands = parser.add_subparsers(dest="command", required=True)
    add = commands.add_parser("add", help="give a tenant a new API key, printed once")
    add.add_argument("name", help="tenant name: lowercase letters, digits and -")
    add.add_argument("--db", metavar="URL", help="database URL (default: ./chatledger.db)")
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else BAD_INPUT
    try:
        with ChatLedger.open(database_url(args.db)) as ledger:
            key = add_tenant(ledger, args.name)
    except InvalidInput as exc:
        print(f"chatledger tenant: {exc.field}: {exc.problem}", file=sys.stderr)
        return BAD_INPUT
    except ChatLedgerError as exc:
        print(f"chatledger tenant: {exc}", file=sys.stderr)
        return FAILED
    print(key)
    print(f"tenant {args.name!r}: keep this key; it cannot be shown again", file=sys.stderr)
    return OK


def session_secret() -> bytes:
    """$CHATLEDGER_SESSION_SECRET, else a random one (sessions then end with the process)."""
    configured = os.environ.get(SESSION_SECRET_VARIABLE, "")
    if configured:
        if len(configured) < 32:
            raise InvalidInput(SESSION_SECRET_VARIABLE, "must be at least 32 characters")
        return configured.encode("utf-8")
    return secrets.token_bytes(32)
