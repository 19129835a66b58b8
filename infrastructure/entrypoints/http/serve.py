"""`chatledger serve` and `chatledger tenant ...`: run the HTTP service, manage tenants' keys."""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
from collections.abc import Sequence
from typing import Any

from chatledger.domain import ChatLedgerError, InvalidInput
from chatledger.infrastructure.entrypoints.http.app import create_app
from chatledger.infrastructure.entrypoints.http.limits import DEFAULT_MAX_BODY_BYTES
from chatledger.infrastructure.entrypoints.http.rate_limits import (
    DEFAULT_AUTH_FAILURES_PER_MINUTE,
    DEFAULT_WRITES_PER_SECOND,
)
from chatledger.infrastructure.entrypoints.http.tenants import (
    KeyRecord,
    NewKey,
    TenantDirectory,
    tenant_directory,
)
from chatledger.infrastructure.entrypoints.tenancy import TENANT_VARIABLE
from chatledger.infrastructure.ledger import ChatLedger
from chatledger.infrastructure.storage.backends import backend_for, database_url
from chatledger.infrastructure.summarizers import OpenAISummarizer
from chatledger.infrastructure.tokens import DeferredCounter

SESSION_SECRET_VARIABLE = "CHATLEDGER_SESSION_SECRET"
DEFAULT_PAGE_TENANT = "web"
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})
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
  - on a loopback --host only, --local-tenant (or $CHATLEDGER_TENANT) lets requests from this
    machine read that one tenant without a key: every local user and process can
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
    _add_counter_options(parser)
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
        "--local-tenant",
        metavar="NAME",
        help=f"let the page read this tenant's conversations without a key, from this machine "
        f"only: needs a loopback --host (default: ${TENANT_VARIABLE} on a loopback host, as the "
        "CLI's default --tenant; writes still need a key or session)",
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
        "--max-record-body-bytes",
        type=int,
        metavar="N",
        help="413 past this for bodies that record messages (default: room for one attachment "
        "of the largest size a message may hold, in base64, and --max-body-bytes more)",
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
    parser.add_argument(
        "--summarizer-base-url",
        metavar="URL",
        help="an OpenAI-compatible endpoint POST /v1/conversations/ID/compact summarizes with "
        "(key: $OPENAI_API_KEY); needs --summarizer-model",
    )
    parser.add_argument("--summarizer-model", metavar="NAME", help="the model it calls")
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else BAD_INPUT
    if (args.summarizer_base_url is None) != (args.summarizer_model is None):
        print(
            "chatledger serve: --summarizer-base-url and --summarizer-model go together",
            file=sys.stderr,
        )
        return BAD_INPUT
    if args.page_tenant is not None and not args.allow_anonymous_writes:
        print("chatledger serve: --page-tenant needs --allow-anonymous-writes", file=sys.stderr)
        return BAD_INPUT
    loopback = args.host in LOOPBACK_HOSTS
    if args.local_tenant is not None and not loopback:
        print(
            f"chatledger serve: --local-tenant needs a loopback --host, not {args.host!r}: "
            "elsewhere anyone who reaches the port could read",
            file=sys.stderr,
        )
        return BAD_INPUT
    local_tenant = (
        (args.local_tenant or os.environ.get(TENANT_VARIABLE) or None) if loopback else None
    )
    import uvicorn

    page_tenant = (args.page_tenant or DEFAULT_PAGE_TENANT) if args.allow_anonymous_writes else None
    try:
        counter = DeferredCounter(model=args.model, encoding=args.encoding)
        summarizer = None
        if args.summarizer_base_url is not None:
            summarizer = OpenAISummarizer(args.summarizer_base_url, args.summarizer_model)
        ledger = ChatLedger.open(database_url(args.db), token_counter=counter)
        app = create_app(
            ledger,
            tenants=tenant_directory(ledger),
            session_secret=session_secret(),
            secure_cookies=args.secure_cookies,
            page_tenant=page_tenant,
            max_body_bytes=args.max_body_bytes,
            max_record_body_bytes=args.max_record_body_bytes,
            auth_failures_per_minute=args.auth_failures_per_minute or None,
            writes_per_second=args.writes_per_second or None,
            local_tenant=local_tenant,
            summarizer=summarizer,
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
    """Run `chatledger tenant add|list|revoke|rotate ...`; return the exit code."""
    parser = argparse.ArgumentParser(
        prog="chatledger tenant",
        description="Manage tenants and their API keys (stored as sha256 hashes only).",
    )
    _add_tenant_options(parser, top=True)
    commands = parser.add_subparsers(dest="command", required=True)
    add = commands.add_parser("add", help="give a tenant a new API key, printed once")
    add.add_argument("name", help="tenant name: lowercase letters, digits and -")
    commands.add_parser("list", help="every tenant and the ids of its keys (never a key)")
    revoke = commands.add_parser("revoke", help="revoke a key: it is refused (401) at once")
    revoke.add_argument("key_id", metavar="KEY_ID", help="the key's id, as `list` shows it")
    rotate = commands.add_parser(
        "rotate", help="give a tenant a new key, printed once; its old keys keep working"
    )
    rotate.add_argument("name", help="an existing tenant's name")
    rotate.add_argument(
        "--revoke-old", action="store_true", help="revoke the tenant's other keys at once"
    )
    for command in commands.choices.values():
        _add_tenant_options(command, top=False)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else BAD_INPUT
    url = database_url(args.db)
    missing = backend_for(url).missing() if args.command != "add" else None
    if missing is not None:
        print(f"chatledger tenant: --db: there is no database at {missing}", file=sys.stderr)
        return BAD_INPUT
    try:
        with ChatLedger.open(url) as ledger:
            directory = tenant_directory(ledger)
            if args.command == "list":
                return _list_keys(directory.keys(), as_json=args.json)
            if args.command == "revoke":
                revoked = directory.revoke(args.key_id)
                _say(args.json, {"revoked": _key_json(revoked)}, _revoked_line(revoked))
                return OK
            if args.command == "rotate":
                return _rotate(directory, args.name, revoke_old=args.revoke_old, as_json=args.json)
            _show_new_key(directory.new_key(args.name), as_json=args.json)
            return OK
    except InvalidInput as exc:
        print(f"chatledger tenant: {exc.field}: {exc.problem}", file=sys.stderr)
        return BAD_INPUT
    except ChatLedgerError as exc:
        print(f"chatledger tenant: {exc}", file=sys.stderr)
        return FAILED


def _rotate(directory: TenantDirectory, name: str, *, revoke_old: bool, as_json: bool) -> int:
    old = directory.keys(name)
    if not old:
        raise InvalidInput(
            "name", f"there is no tenant {name!r}: `chatledger tenant add {name}` makes one"
        )
    new = directory.new_key(name)
    revoked = [directory.revoke(record.key_id) for record in old] if revoke_old else []
    _show_new_key(new, as_json=as_json, revoked=revoked)
    if not as_json and not revoked:
        print(
            f"its {len(old)} older key(s) keep working until `chatledger tenant revoke KEY_ID`",
            file=sys.stderr,
        )
    return OK


def _show_new_key(new: NewKey, *, as_json: bool, revoked: Sequence[KeyRecord] = ()) -> None:
    if as_json:
        shown: dict[str, Any] = {"key": new.key, **_key_json(new.record)}
        if revoked:
            shown["revoked"] = [_key_json(record) for record in revoked]
        _print_json(shown)
        return
    print(new.key)
    print(
        f"tenant {new.record.tenant!r}, key id {new.record.key_id}: keep this key; "
        "it cannot be shown again",
        file=sys.stderr,
    )
    for record in revoked:
        print(_revoked_line(record), file=sys.stderr)


def _list_keys(records: Sequence[KeyRecord], *, as_json: bool) -> int:
    if as_json:
        for record in records:
            _print_json(_key_json(record))
        return OK
    if not records:
        print("no tenants yet: `chatledger tenant add NAME` makes one", file=sys.stderr)
        return OK
    width = max(len("tenant"), *(len(record.tenant) for record in records))
    print(f"{'tenant':<{width}}  {'key id':<16}  created (UTC)")
    for record in records:
        created = record.created_at.strftime("%Y-%m-%d %H:%M:%S")
        print(f"{record.tenant:<{width}}  {record.key_id:<16}  {created}")
    return OK


def _revoked_line(record: KeyRecord) -> str:
    return f"revoked key {record.key_id} of tenant {record.tenant!r}: it is refused from now on"


def _key_json(record: KeyRecord) -> dict[str, str]:
    return {
        "tenant": record.tenant,
        "key_id": record.key_id,
        "created_at": record.created_at.isoformat(),
    }


def _say(as_json: bool, value: dict[str, Any], line: str) -> None:
    if as_json:
        _print_json(value)
    else:
        print(line)


def _print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, ensure_ascii=False) + "\n")


def _add_counter_options(parser: argparse.ArgumentParser, default: Any = None) -> None:
    counter = parser.add_mutually_exclusive_group()
    counter.add_argument(
        "--encoding",
        metavar="NAME",
        default=default,
        help="tiktoken encoding messages are counted with (default: o200k_base)",
    )
    counter.add_argument(
        "--model", metavar="NAME", default=default, help="count as this model does"
    )


def _add_tenant_options(parser: argparse.ArgumentParser, *, top: bool) -> None:
    # The subcommand's copy must not reset what was given before the subcommand.
    default: Any = None if top else argparse.SUPPRESS
    parser.add_argument(
        "--db", metavar="URL", default=default, help="database URL (default: ./chatledger.db)"
    )
    parser.add_argument(
        "--json",
        action="store_true",
        default=False if top else argparse.SUPPRESS,
        help="machine output: JSON (lines) on stdout",
    )
    # Accepted, as by every chatledger command; managing keys counts no tokens.
    _add_counter_options(parser, default)


def session_secret() -> bytes:
    """$CHATLEDGER_SESSION_SECRET, else a random one (sessions then end with the process)."""
    configured = os.environ.get(SESSION_SECRET_VARIABLE, "")
    if configured:
        if len(configured) < 32:
            raise InvalidInput(SESSION_SECRET_VARIABLE, "must be at least 32 characters")
        return configured.encode("utf-8")
    return secrets.token_bytes(32)
