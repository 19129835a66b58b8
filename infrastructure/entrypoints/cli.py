"""The chatledger command line: record, read history and memory, branch, audit, run the demo."""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import Any, NoReturn
from urllib.parse import urlsplit, urlunsplit

from rich.console import Console
from rich.table import Table
from rich.text import Text

from chatledger.domain import (
    DEFAULT_MAX_CONTENT_BYTES,
    ChatLedgerError,
    InvalidInput,
    Message,
    TokenCounter,
    ToolCall,
    UnknownConversation,
)
from chatledger.infrastructure.entrypoints import (
    cli_audit,
    cli_branches,
    cli_keys,
    cli_memory_changes,
    cli_summaries,
)
from chatledger.infrastructure.entrypoints.provider_input import (
    FORMATS,
    ProviderFormat,
    provider_messages,
)
from chatledger.infrastructure.entrypoints.tenancy import TENANT_VARIABLE, ledger_id
from chatledger.infrastructure.entrypoints.terminal import (
    content_cell,
    describe,
    memory_table,
    role_cell,
    style_columns,
    tools_cell,
)
from chatledger.infrastructure.ledger import ChatLedger
from chatledger.infrastructure.storage.backends import (
    DATABASE_URL_VARIABLE,
    DEFAULT_DATABASE_URL,
    backend_for,
    database_url,
)
from chatledger.infrastructure.tokens import DeferredCounter
from chatledger.projections import MemoryView, MessageWindow, Policy, SummaryWindow, TokenWindow

PROG = "chatledger"
OK, FAILED, BAD_INPUT = 0, 1, 2
SIGPIPE_EXIT = 141
"""What a shell reports for a process ended by SIGPIPE: the output was cut short on purpose."""
DEFAULT_MEMORY_TOKENS = 4000
"""The token window `memory` shows unless given --max-tokens or --max-messages."""
HISTORY_LIMIT = 20
"""Rows `history` shows unless asked for --limit N or --all."""

_BATCH_FIELD = re.compile(r"messages\.(\d+)(.*)")
_OPTIONS_WITH_VALUES = frozenset({"--db", "--encoding", "--model", "--tenant"})
"""Global options whose value is the next argument (``--db URL``, not ``--db=URL``)."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` (default: ``sys.argv[1:]``); return the exit code."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    delegated = _delegated(arguments)
    if delegated is not None:
        return delegated
    parser = build_parser()
    try:
        args = parser.parse_args(arguments)
    except SystemExit as exc:  # argparse exits 2 on bad usage and 0 after --help
        return exc.code if isinstance(exc.code, int) else BAD_INPUT
    command: Callable[[argparse.Namespace], int] = args.command
    try:
        _in_tenant(args)
        code = command(args)
        sys.stdout.flush()
        return code
    except BrokenPipeError:
        # The reader went away (`| head`): what it wanted was written. Point stdout at
        # /dev/null so the interpreter's own flush at exit finds nothing to complain about.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return SIGPIPE_EXIT
    except InvalidInput as exc:
        return _fail(BAD_INPUT, f"{exc.field}: {exc.problem}")
    except ChatLedgerError as exc:
        # The ledger raises nothing else: a database it cannot reach is StorageUnavailable,
        # whose message names the store and says what to check.
        return _fail(FAILED, str(exc))
    except KeyboardInterrupt:
        return _fail(130, "interrupted")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = _Parser(
        prog=PROG,
        description="A conversation store for LLM apps: every message an immutable event.",
    )
    _add_common_options(parser, argparse_defaults=True)
    commands = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)

    record = _command(commands, "record", "record one message, or a JSON lines file", run_record)
    record.add_argument("conversation", metavar="CONV", help="conversation id")
    source = record.add_mutually_exclusive_group(required=True)
    source.add_argument("--role", metavar="{system,user,assistant,tool}", help="message role")
    source.add_argument(
        "--file",
        metavar="PATH",
        help="JSON lines, one message object a line, recorded as one atomic save ('-': stdin)",
    )
    record.add_argument(
        "--format",
        choices=FORMATS,
        default="chatledger",
        help="the shape of --file's objects: chatledger's messages (the default), OpenAI Chat "
        "Completions messages, Responses API items, or Anthropic Messages turns",
    )
    record.add_argument("--content", metavar="TEXT", help="message text")
    record.add_argument("--name", metavar="N", help="participant name")
    record.add_argument("--id", metavar="ID", help="message id (default: a new uuid)")
    record.add_argument("--tool-call-id", metavar="ID", help="the call a tool message answers")
    record.add_argument(
        "--tool-call",
        nargs=3,
        action="append",
        metavar=("ID", "NAME", "ARGS"),
        help="a tool call of an assistant message, ARGS its JSON text (repeatable)",
    )
    record.add_argument(
        "--expected-version",
        type=int,
        metavar="V",
        help="fail unless the conversation holds exactly V messages",
    )

    history = _command(commands, "history", "show recorded messages, oldest first", run_history)
    history.add_argument("conversation", metavar="CONV", help="conversation id")
    history.add_argument("--after", type=int, metavar="P", help="only positions after P")
    history.add_argument("--before", type=int, metavar="P", help="only positions before P")
    shown = history.add_mutually_exclusive_group()
    shown.add_argument("--all", action="store_true", help="every message (default: newest 20)")
    shown.add_argument(
        "--limit", type=int, metavar="N", help="at most N (the newest, unless --after)"
    )
    history.add_argument("--at", type=int, metavar="P", help="as it was when P was recorded")

    memory = _command(commands, "memory", "show what the model is sent next", run_memory)
    memory.add_argument("conversation", metavar="CONV", help="conversation id")
    window = memory.add_mutually_exclusive_group()
    window.add_argument("--max-messages", type=int, metavar="N", help="a message window")
    window.add_argument(
        "--max-tokens",
        type=int,
        metavar="T",
        help=f"a token window (the default: {DEFAULT_MEMORY_TOKENS} tokens)",
    )
    memory.add_argument(
        "--start-on-user", action="store_true", help="drop leading units until a user message"
    )
    memory.add_argument("--at", type=int, metavar="POS", help="the view as of position POS")
    memory.add_argument(
        "--summaries",
        action="store_true",
        help="a summary window: the newest summary that helps stands for the oldest messages",
    )
    memory.add_argument(
        "--prompt-text", action="store_true", help="print the view as one system prompt"
    )
    memory.add_argument(
        "--render",
        choices=("openai", "responses", "anthropic"),
        help="print the view as a provider's request data (JSON), with what it left out and why",
    )

    _command(commands, "demo", "record a sample conversation and explain its memory", run_demo)
    cli_audit.add_commands(commands, _command, open_ledger)
    cli_keys.add_commands(commands, _command, open_ledger)
    cli_summaries.add_commands(commands, _command, open_ledger)
    cli_memory_changes.add_commands(commands, _command, open_ledger)
    cli_branches.add_commands(commands, _command, open_ledger)
    # Listed for --help; main() hands them to their own parsers before this one runs.
    commands.add_parser("serve", help="serve the HTTP API and the history page (--help for more)")
    commands.add_parser("tenant", help="tenant add NAME: print a new API key for a tenant")
    return parser


def _delegated(arguments: list[str]) -> int | None:
    """Run `serve` and `tenant`, which parse their own options; None for the rest."""
    index = 0
    while index < len(arguments) and arguments[index].startswith("-"):
        index += 2 if arguments[index] in _OPTIONS_WITH_VALUES else 1
    if index >= len(arguments) or arguments[index] not in ("serve", "tenant"):
        return None
    # Options given before the command go after it, where its own parser reads them.
    rest = arguments[index + 1 :] + arguments[:index]
    # Imported here: the web stack is slow to import.
    from chatledger.infrastructure.entrypoints.http import serve_main, tenant_main

    return serve_main(rest) if arguments[index] == "serve" else tenant_main(rest)


def _in_tenant(args: argparse.Namespace) -> None:
    """Point CONV at the tenant's conversation, ``NAME:CONV``; keep CONV to show."""
    args.tenant = args.tenant or os.environ.get(TENANT_VARIABLE) or None
    conversation = getattr(args, "conversation", None)
    args.shown = conversation
    if args.tenant is not None and conversation is not None:
        try:
            args.conversation = ledger_id(args.tenant, conversation)
        except InvalidInput as exc:
            raise InvalidInput(
                "--tenant" if exc.field == "tenant" else "CONV", exc.problem
            ) from None


class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line, like every other error."""

    def error(self, message: str) -> NoReturn:
        """Print the error and a pointer to --help, then exit 2."""
        self.exit(BAD_INPUT, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _command(
    commands: Any,
    name: str,
    summary: str,
    run: Callable[[argparse.Namespace], int],
    *,
    counter: bool = True,
) -> argparse.ArgumentParser:
    """A subcommand taking the global options; without ``counter``, no --encoding or --model
    (a command that gives --model a meaning of its own adds them itself)."""
    command: argparse.ArgumentParser = commands.add_parser(name, help=summary, description=summary)
    # Global options are accepted after the subcommand too (`chatledger demo --db URL`).
    _add_common_options(command, argparse_defaults=False, counter=counter)
    command.set_defaults(command=run)
    return command


def _add_common_options(
    parser: argparse.ArgumentParser, *, argparse_defaults: bool, counter: bool = True
) -> None:
    # A subcommand's copy must not reset what was given before the subcommand.
    default: Any = None if argparse_defaults else argparse.SUPPRESS
    parser.add_argument(
        "--db",
        metavar="URL",
        default=default,
        help=f"database URL (default: ${DATABASE_URL_VARIABLE}, else {DEFAULT_DATABASE_URL})",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        default=False if argparse_defaults else argparse.SUPPRESS,
        help="machine output: JSON (lines) on stdout",
    )
    parser.add_argument(
        "--tenant",
        metavar="NAME",
        default=default,
        help=f"the tenant whose conversation CONV names, stored as NAME:CONV as the HTTP "
        f"service stores it (default: ${TENANT_VARIABLE}, else none)",
    )
    if not counter:
        return
    counting = parser.add_mutually_exclusive_group()
    counting.add_argument(
        "--encoding", metavar="NAME", default=default, help="tiktoken encoding (o200k_base)"
    )
    counting.add_argument("--model", metavar="NAME", default=default, help="count as this model")


# Commands


def run_record(args: argparse.Namespace) -> int:
    """Record one message, or every line of a JSON lines file as one atomic save."""
    if args.file is not None:
        _refuse_message_options_with_file(args)
        source = "stdin" if args.file == "-" else os.path.basename(args.file)
        if args.format == "chatledger":
            lines, messages = read_message_lines(_read_file(args.file), source)
        else:
            lines, messages = [], read_provider_lines(_read_file(args.file), args.format, source)
        if not messages:
            raise InvalidInput("file", f"{args.file!r} holds no messages")
    else:
        lines, messages = [], [_message_from_options(args)]
    warn_on_raw_arguments(messages, lines)
    with open_ledger(args) as ledger:
        try:
            entries = ledger.record(
                args.conversation, messages, expected_version=args.expected_version
            )
        except InvalidInput as exc:
            raise _on_line(exc, lines) from None
    if args.json:
        _print_json_lines(entry.model_dump(mode="json") for entry in entries)
    else:
        table = Table("#", "id", "role", "tokens", title=f"recorded in {args.shown}")
        style_columns(table)
        for entry in entries:
            table.add_row(
                str(entry.position), Text(entry.message.id), role_cell(entry), str(entry.tokens)
            )
        _console().print(table)
    return OK


def run_history(args: argparse.Namespace) -> int:
    """Print a conversation's history, or a page of it."""
    limit = args.limit
    if limit is None and not args.all and not args.json and args.after is None:
        limit = HISTORY_LIMIT
    with open_ledger(args, must_exist=True) as ledger:
        view = ledger.history(
            args.conversation, after=args.after, before=args.before, limit=limit, at=args.at
        )
        changes = [] if args.json else ledger.memory_changes(args.conversation, at=args.at)
    if not view.length:
        raise UnknownConversation(args.conversation)
    if args.json:
        _print_json_lines(entry.model_dump(mode="json") for entry in view)
        return OK
    console = _console()
    # Columns no entry uses are left out, so the content gets what width there is.
    names = any(entry.message.name for entry in view)
    tools = any(entry.message.tool_calls or entry.message.tool_call_id for entry in view)
    headers = ["#", "time (UTC)", "role", *(["name"] if names else []), "content"]
    marks = cli_memory_changes.memory_marks(changes)
    headers += [*(["tools"] if tools else []), "tokens", *(["memory"] if marks else [])]
    table = Table(*headers, title=f"{args.shown}: {len(view)} of {view.length} messages")
    style_columns(table)
    for entry in view:
        cells: list[str | Text] = [
            str(entry.position),
            entry.recorded_at.strftime("%m-%d %H:%M:%S"),
            role_cell(entry),
        ]
        if names:
            cells.append(Text(entry.message.name or ""))
        cells.append(content_cell(entry))
        if tools:
            cells.append(tools_cell(entry.message))
        cells.append(str(entry.tokens))
        if marks:
            cells.append(Text(marks.get(entry.position, ""), style="yellow"))
        table.add_row(*cells)
    console.print(table)
    shown_from = view.entries[0].position if view.entries else 0
    if args.limit is None and not args.all and shown_from > 1 and args.after is None:
        console.print(
            Text(
                f"showing the newest {len(view)} of {view.length}: "
                "--limit N for more, --all for every message",
                style="dim",
            )
        )
    return OK


def run_memory(args: argparse.Namespace) -> int:
    """Print the memory view: what the model is sent next under a window policy."""
    policy: Policy
    if args.summaries and args.max_messages is not None:
        raise InvalidInput("--summaries", "a summary window counts tokens: use --max-tokens")
    tokens = DEFAULT_MEMORY_TOKENS if args.max_tokens is None else args.max_tokens
    if args.max_messages is not None:
        policy = MessageWindow(max_messages=args.max_messages, start_on_user=args.start_on_user)
    elif args.summaries:
        policy = SummaryWindow(max_tokens=tokens, start_on_user=args.start_on_user)
    else:
        policy = TokenWindow(max_tokens=tokens, start_on_user=args.start_on_user)
    with open_ledger(args, must_exist=True) as ledger:
        view = ledger.memory(args.conversation, policy, at=args.at)
        if not view.entries and not ledger.version(args.conversation):
            raise UnknownConversation(args.conversation)
    if args.render is not None:
        rendering = view.rendering(args.render)
        omitted = [omission.model_dump(mode="json") for omission in rendering.omitted]
        _print_json({"provider": args.render, "payload": rendering.payload, "omitted": omitted})
        for omission in rendering.omitted:
            print(
                f"{PROG}: left out at position {omission.position}, {omission.field} "
                f"({omission.kind}): {omission.reason}",
                file=sys.stderr,
            )
    elif args.prompt_text:
        text = view.as_prompt_text()
        if args.json:
            _print_json({"prompt": text})
        else:
            print(text)
    elif args.json:
        _print_json(memory_json(view))
    else:
        _console().print(memory_table(view, title=f"{args.shown}: {describe(policy)}"))
    return OK


def run_demo(args: argparse.Namespace) -> int:
    """Record the demo conversation and show its history beside its memory view."""
    # Imported here: the demo's script is only needed by this command, and it uses this module.
    from chatledger.infrastructure.entrypoints import demo

    with open_ledger(args) as ledger:
        report = demo.run(ledger, tenant=args.tenant)
    where = without_password(database_url(args.db))
    if args.json:
        _print_json(demo.report_json(report, where))
    else:
        demo.render(report, where, _console(min_width=demo.WIDTH))
    return OK


# Wiring


def open_ledger(args: argparse.Namespace, *, must_exist: bool = False) -> ChatLedger:
    """Open the ledger the options name, counting tokens with the chosen tiktoken encoding.

    With ``must_exist`` (every command that only reads), a SQLite file that is not there is
    reported, never created.
    """
    url = database_url(args.db)
    missing = backend_for(url).missing() if must_exist else None
    if missing is not None:
        raise InvalidInput(
            "--db",
            f"there is no database at {missing} (from {without_password(url)}): record a "
            f"message first, or name the database with --db or ${DATABASE_URL_VARIABLE}",
        )
    return ChatLedger.open(url, token_counter=token_counter(args))


def token_counter(args: argparse.Namespace) -> TokenCounter:
    """The tiktoken counter for --encoding or --model, else o200k_base; loaded on first use."""
    return DeferredCounter(model=args.model, encoding=args.encoding)


def without_password(url: str) -> str:
    """The URL with any password masked, fit to print."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


# Input


def read_message_lines(
    lines: Iterable[str], source: str = "stdin"
) -> tuple[list[int], list[Message]]:
    """Parse JSON lines of message objects; return each message's line number and the messages.

    A line without an id gets one made of ``source`` (the file's name), the line number and
    the line's content, so recording the same file again records nothing new. Raises
    InvalidInput naming the line and the field, before anything is recorded.
    """
    numbers: list[int] = []
    messages: list[Message] = []
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InvalidInput(f"line {number}", f"is not valid JSON ({exc.msg})") from None
        if isinstance(data, dict) and "id" not in data:
            data["id"] = line_id(source, number, text)
        try:
            message = Message.parse(data)
            # Checked here too, so an oversized message is reported with its line number.
            message.check_size(DEFAULT_MAX_CONTENT_BYTES)
        except InvalidInput as exc:
            raise InvalidInput(f"line {number}: {exc.field}", exc.problem) from None
        numbers.append(number)
        messages.append(message)
    return numbers, messages


def read_provider_lines(lines: Iterable[str], format: ProviderFormat, source: str) -> list[Message]:
    """Parse JSON lines of a provider's objects into messages; InvalidInput names the line.

    Each message gets an id made of ``source``, its place and its content, so recording the
    same file again records nothing new.
    """
    objects: list[Any] = []
    numbers: list[int] = []
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        try:
            objects.append(json.loads(text))
        except json.JSONDecodeError as exc:
            raise InvalidInput(f"line {number}", f"is not valid JSON ({exc.msg})") from None
        numbers.append(number)
    try:
        imported = provider_messages(format, objects)
    except InvalidInput as exc:
        place, _, rest = exc.field.partition(".")
        if not place.isdigit():
            raise
        raise InvalidInput(f"line {numbers[int(place)]}: {rest}", exc.problem) from None
    messages = []
    for index, message in enumerate(imported, start=1):
        fields = {k: v for k, v in message.stored_form().items() if k != "id"}
        said = json.dumps(fields, sort_keys=True, ensure_ascii=False)
        messages.append(message.model_copy(update={"id": line_id(source, index, said)}))
    return messages


def line_id(source: str, number: int, text: str) -> str:
    """The id a file's line without one is recorded under: the same line, the same id."""
    digest = hashlib.sha256(f"{source}\n{number}\n{text.strip()}".encode()).hexdigest()
    return f"line-{digest[:32]}"


def warn_on_raw_arguments(messages: Sequence[Message], lines: Sequence[int]) -> None:
    """Say on stderr which tool calls carry arguments that are not JSON (they are kept as given)."""
    for index, message in enumerate(messages):
        for call in message.tool_calls:
            try:
                json.loads(call.arguments)
            except ValueError:
                where = f"line {lines[index]}: " if lines else ""
                print(
                    f"{PROG}: warning: {where}tool call {call.id!r} ({call.name}) has arguments "
                    "that are not JSON; they are recorded exactly as given",
                    file=sys.stderr,
                )


def _read_file(path: str) -> list[str]:
    try:
        if path == "-":
            return sys.stdin.read().splitlines()
        with open(path, encoding="utf-8") as file:
            return file.read().splitlines()
    except UnicodeDecodeError as exc:
        raise InvalidInput("file", f"{path!r} is not UTF-8 text ({exc.reason})") from None
    except OSError as exc:
        raise InvalidInput("file", f"cannot read {path!r}: {exc.strerror or exc}") from None


def _refuse_message_options_with_file(args: argparse.Namespace) -> None:
    for option in ("content", "name", "id", "tool_call_id", "tool_call"):
        if getattr(args, option) is not None:
            flag = "--" + option.replace("_", "-")
            raise InvalidInput(flag, "cannot be combined with --file: give each line its fields")


def _message_from_options(args: argparse.Namespace) -> Message:
    if args.content is None and not args.tool_call:
        raise InvalidInput("--content", "a message needs --content, or --tool-call for a call")
    fields: dict[str, Any] = {"role": args.role}
    for option in ("content", "name", "id", "tool_call_id"):
        if getattr(args, option) is not None:
            fields[option] = getattr(args, option)
    if args.tool_call:
        fields["tool_calls"] = tuple(
            ToolCall(id=call_id, name=name, arguments=arguments)
            for call_id, name, arguments in args.tool_call
        )
    return Message(**fields)


def _on_line(exc: InvalidInput, lines: list[int]) -> InvalidInput:
    """Name the file line of an error the ledger reports by batch index."""
    match = _BATCH_FIELD.fullmatch(exc.field)
    if not lines or match is None or int(match[1]) >= len(lines):
        return exc
    return InvalidInput(f"line {lines[int(match[1])]}{match[2].replace('.', ': ', 1)}", exc.problem)


# Output


def memory_json(view: MemoryView) -> dict[str, Any]:
    """The memory view as JSON: position, tokens, over_budget, policy, and the messages to send."""
    return {
        "position": view.position,
        "tokens": view.tokens,
        "over_budget": view.over_budget,
        "policy": view.policy.model_dump(mode="json"),
        "positions": list(view.positions),
        "messages": [message.model_dump(mode="json") for message in view.messages],
        "summary": None if view.summary is None else view.summary.model_dump(mode="json"),
    }


def _console(min_width: int = 0) -> Console:
    console = Console(highlight=False)
    if not console.is_terminal and console.width < min_width:
        # Without a terminal (CI, pipes) rich assumes 80 columns; some tables need more.
        console = Console(highlight=False, width=min_width)
    return console


def _print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, ensure_ascii=False) + "\n")


def _print_json_lines(values: Iterable[Any]) -> None:
    for value in values:
        _print_json(value)


def _fail(code: int, message: str) -> int:
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
