"""Auditors' commands: audit, verify, checkpoint, erase, export, import and retention."""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from chatledger.domain import InvalidInput, ModelCall, SummaryWindow, UnknownConversation
from chatledger.infrastructure.entrypoints.terminal import content_cell
from chatledger.infrastructure.ledger import ChatLedger
from chatledger.infrastructure.services import transfer
from chatledger.projections.memory import MemoryExplanation, explain_memory
from chatledger.projections.summaries import explain_summary_memory

Command = Callable[[argparse.Namespace], int]
OpenLedger = Callable[..., ChatLedger]
"""``open_ledger(args, must_exist=...)``: the ledger the options name."""
OK, FAILED = 0, 1
_DURATION = re.compile(r"(\d+)([smhd])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def add_commands(
    commands: Any,
    add: Callable[[Any, str, str, Command], argparse.ArgumentParser],
    open_ledger: OpenLedger,
) -> None:
    """Register the auditors' subcommands; each opens the ledger the options name."""

    def command(
        commands: Any,
        name: str,
        summary: str,
        run: Callable[[argparse.Namespace, ChatLedger], int],
        *,
        reads: bool = True,
    ) -> argparse.ArgumentParser:
        def with_ledger(args: argparse.Namespace) -> int:
            # Only import may begin a database: the others need one with conversations in it.
            with open_ledger(args, must_exist=reads) as ledger:
                return run(args, ledger)

        return add(commands, name, summary, with_ledger)

    audit = command(
        commands, "audit", "what the model saw on each recorded call, and why", run_audit
    )
    audit.add_argument("conversation", metavar="CONV")
    audit.add_argument("--call", type=int, metavar="N", help="only model call N")

    verify = command(commands, "verify", "recompute hash chains; exit 1 on any break", run_verify)
    target = verify.add_mutually_exclusive_group(required=True)
    target.add_argument("conversation", metavar="CONV", nargs="?")
    target.add_argument("--all", action="store_true", help="every conversation, with progress")
    verify.add_argument("--checkpoint", metavar="FILE", help="also compare with this checkpoint")

    command(commands, "checkpoint", "print every conversation's chain head (JSON)", run_checkpoint)

    erase = command(commands, "erase", "crypto-shred a conversation's text", run_erase)
    erase.add_argument("conversation", metavar="CONV")
    erase.add_argument("--reason", required=True, help="why (kept in the audit trail)")

    export = command(commands, "export", "write messages as JSON lines to stdout", run_export)
    which = export.add_mutually_exclusive_group(required=True)
    which.add_argument("conversation", metavar="CONV", nargs="?")
    which.add_argument("--all", action="store_true", help="every conversation")

    load = command(
        commands,
        "import",
        "record an exported JSON lines file, idempotently",
        run_import,
        reads=False,
    )
    load.add_argument("file", metavar="FILE", help="a file written by export ('-': stdin)")

    retention = command(commands, "retention", "retention periods and legal holds", run_retention)
    retention.add_argument("conversation", metavar="CONV", nargs="?")
    change = retention.add_mutually_exclusive_group()
    change.add_argument("--set", metavar="DURATION", help="e.g. 30d, 12h (after the last message)")
    change.add_argument("--clear", action="store_true", help="keep the conversation forever")
    change.add_argument("--hold", metavar="REASON", help="place a legal hold")
    change.add_argument("--release", action="store_true", help="lift the legal hold")
    retention.add_argument("--apply", action="store_true", help="erase what is past retention")
    retention.add_argument("--now", metavar="ISO-TIME", help="evaluate as of this time")


def run_audit(args: argparse.Namespace, ledger: ChatLedger) -> int:
    """Per model call: the history up to it, each message marked seen or why not."""
    if not ledger.version(args.conversation):
        raise UnknownConversation(args.conversation)
    calls = ledger.model_calls(args.conversation)
    if args.call is not None:
        calls = [c for c in calls if c.number == args.call]
        if not calls:
            raise InvalidInput("--call", f"{args.conversation!r} has no model call {args.call}")
    history = ledger.history(args.conversation).entries
    overhead = ledger.token_counter.request_overhead
    reports = []
    summaries = ledger.summaries(args.conversation) if calls else []
    for call in calls:
        explanation = _explained(ledger, call, history[: call.position], summaries, overhead)
        replay = ledger.replay_model_call(args.conversation, call)
        excluded = {p: explanation.describe(p) for p in explanation.excluded}
        reports.append((call, excluded, replay.identical, replay.differences))
    if args.json:
        for call, excluded, identical, differences in reports:
            _print_json(
                {
                    "call": call.number,
                    "model": call.model,
                    "position": call.position,
                    "policy": call.policy.model_dump(mode="json"),
                    "tokens": call.tokens,
                    "usage": call.usage.model_dump() if call.usage else None,
                    "seen": list(call.positions),
                    "excluded": {str(p): reason for p, reason in excluded.items()},
                    "replay_identical": identical,
                    "differences": list(differences),
                }
            )
        return OK
    console = Console(highlight=False)
    if not reports:
        console.print(Text(f"{args.conversation}: no model calls recorded"))
    for call, excluded, identical, differences in reports:
        console.print(
            _audit_table(call, history[: call.position], excluded, identical, differences)
        )
    return OK if all(identical for _, _, identical, _ in reports) else FAILED


def _explained(
    ledger: ChatLedger, call: ModelCall, history: Any, summaries: Any, overhead: int
) -> MemoryExplanation:
    """Why the call's view left each message out; a summary window's among its summaries."""
    if isinstance(call.policy, SummaryWindow):
        return explain_summary_memory(
            history,
            summaries[: call.summaries],
            call.policy,
            overhead,
            ledger.token_counter.count,
        )
    return explain_memory(history, call.policy, overhead)


def _audit_table(
    call: ModelCall,
    history: Any,
    excluded: dict[int, str],
    identical: bool,
    differences: tuple[str, ...],
) -> Table:
    usage = f", provider billed {call.usage.prompt_tokens}" if call.usage else ""
    proof = "replay identical" if identical else "REPLAY DIFFERS: " + "; ".join(differences)
    if call.summary is not None:
        proof = f"shown summary #{call.summary}; {proof}"
    table = Table(
        "#",
        "role",
        "content",
        "model saw it",
        title=f"call {call.number} to {call.model} at position {call.position}: "
        f"{call.tokens} tokens{usage}; {proof}",
    )
    for entry in history:
        reason = excluded.get(entry.position)
        style = "dim" if reason else ""
        calls = " ".join(f"→ {c.name}({c.arguments})" for c in entry.message.tool_calls)
        cell = content_cell(entry) if entry.message.content or entry.erased else Text(calls)
        cell.truncate(80)
        if style:
            cell.stylize(style)
        table.add_row(
            str(entry.position),
            Text(entry.message.role, style=style),
            cell,
            Text(f"no: {reason}" if reason else "yes", style=style),
        )
    return table


def run_verify(args: argparse.Namespace, ledger: ChatLedger) -> int:
    """Recompute chains, report every break, exit 1 if there is any."""
    if args.all:
        results = _with_progress(
            "verifying",
            sum(1 for _ in ledger.all_conversations()),
            lambda advance: ledger.verify_all(progress=lambda _: advance()),
        )
    else:
        results = [ledger.verify(args.conversation)]
    breaks = [b for r in results for b in r.breaks]
    if args.checkpoint:
        breaks += ledger.compare_checkpoint(_read_checkpoint(args.checkpoint))
    if args.json:
        _print_json(
            {
                "conversations": len(results),
                "messages": sum(r.length for r in results),
                "breaks": [vars(b) for b in breaks],
            }
        )
    else:
        console = Console(highlight=False)
        for found in breaks:
            console.print(Text(f"BREAK {found}", style="bold red"))
        verdict = "intact" if not breaks else f"{len(breaks)} break(s)"
        console.print(
            Text(
                f"verified {len(results)} conversation(s), "
                f"{sum(r.length for r in results)} messages: {verdict}"
            )
        )
    return OK if not breaks else FAILED


def _read_checkpoint(path: str) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise InvalidInput("--checkpoint", f"cannot read {path!r}: {exc.strerror}") from None
    except ValueError as exc:  # not UTF-8, or not JSON
        raise InvalidInput("--checkpoint", f"{path!r} is not a checkpoint's JSON ({exc})") from None


def run_checkpoint(args: argparse.Namespace, ledger: ChatLedger) -> int:
    """Print the chain head of every conversation, to keep outside the database."""
    _print_json(ledger.checkpoint())
    return OK


def run_erase(args: argparse.Namespace, ledger: ChatLedger) -> int:
    """Destroy a conversation's key; its history keeps roles and times, no content."""
    erased_at = ledger.erase(args.conversation, reason=args.reason)
    if args.json:
        _print_json({"conversation": args.conversation, "erased_at": erased_at.isoformat()})
    else:
        Console(highlight=False).print(Text(f"erased {args.conversation} at {erased_at}"))
    return OK


def run_export(args: argparse.Namespace, ledger: ChatLedger) -> int:
    """Write JSON lines to stdout; progress goes to stderr."""
    lines = ledger.export(None if args.all else args.conversation)
    total = None if args.all else ledger.version(args.conversation)

    def write(advance: Callable[[], None]) -> int:
        def counted() -> Iterator[dict[str, Any]]:
            for line in lines:
                yield line
                advance()

        return transfer.write_jsonl(counted(), sys.stdout)

    _with_progress("exporting", total, write)
    return OK


def run_import(args: argparse.Namespace, ledger: ChatLedger) -> int:
    """Validate the whole file, then record it in batches; a second run records nothing."""
    if args.file == "-":
        text = sys.stdin.read().splitlines()
    else:
        try:
            text = Path(args.file).read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise InvalidInput("file", f"cannot read {args.file!r}: {exc.strerror}") from None
    parsed = transfer.parse_lines(text)
    done = [0]

    def run(advance: Callable[[], None]) -> transfer.ImportReport:
        def progress(index: int) -> None:
            for _ in range(index - done[0]):
                advance()
            done[0] = index

        return ledger.import_lines(parsed, progress)

    report = _with_progress("importing", len(parsed), run)
    summary = vars(report)
    if args.json:
        _print_json(summary)
    else:
        Console(highlight=False).print(
            Text(
                f"{report.lines} lines: {report.recorded} recorded ({report.restored} with "
                f"their original times and chain), {report.unchanged} already present, "
                f"{report.erased_skipped} erased (skipped)"
            )
        )
    return OK


def run_retention(args: argparse.Namespace, ledger: ChatLedger) -> int:
    """Set a retention period or legal hold, or list/apply what is past retention."""
    changing = args.set or args.clear or args.hold or args.release
    if changing:
        if args.conversation is None:
            raise InvalidInput("CONV", "name the conversation to change")
        if args.set or args.clear:
            ledger.set_retention(
                args.conversation, None if args.clear else parse_duration(args.set)
            )
        else:
            ledger.set_legal_hold(args.conversation, None if args.release else args.hold)
        return _show_retention(args, ledger)
    if args.conversation is not None:
        return _show_retention(args, ledger)
    now = datetime.fromisoformat(args.now) if args.now else None
    report = ledger.apply_retention(now=now, dry_run=not args.apply)
    if args.json:
        _print_json({"applied": args.apply, "erased": report.erased, "held": report.held})
        return OK
    console = Console(highlight=False)
    verb = "erased" if args.apply else "would erase (run with --apply)"
    for conversation_id in report.erased:
        console.print(Text(f"{verb}: {conversation_id}"))
    for conversation_id, reason in report.held:
        console.print(Text(f"kept under legal hold: {conversation_id} ({reason})"))
    console.print(Text(f"{len(report.erased)} past retention, {len(report.held)} on hold"))
    return OK


def _show_retention(args: argparse.Namespace, ledger: ChatLedger) -> int:
    """One conversation's retention period, legal hold and erasure, as stored now."""
    record = ledger.conversation(args.conversation)
    if record is None:
        raise UnknownConversation(args.conversation)
    settings = {
        "conversation": record.conversation_id,
        "retention": None if record.retention is None else str(record.retention),
        "legal_hold": record.legal_hold,
        "erased_at": None if record.erased_at is None else record.erased_at.isoformat(),
    }
    if args.json:
        _print_json(settings)
        return OK
    console = Console(highlight=False)
    kept = "forever" if record.retention is None else f"{record.retention} after its last message"
    console.print(Text(f"{record.conversation_id}: kept {kept}"))
    hold = "none" if record.legal_hold is None else record.legal_hold
    console.print(Text(f"legal hold: {hold}"))
    if record.erased_at is not None:
        console.print(Text(f"erased at {record.erased_at.isoformat()}"))
    return OK


def parse_duration(text: str) -> timedelta:
    """'30d', '12h', '90m' or '45s' as a timedelta."""
    match = _DURATION.fullmatch(text.strip())
    if match is None:
        raise InvalidInput("--set", f"give a duration like 30d, 12h, 90m or 45s, not {text!r}")
    return timedelta(**{_UNITS[match[2]]: int(match[1])})


def _with_progress(label: str, total: int | None, work: Callable[[Callable[[], None]], Any]) -> Any:
    with Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
        # The work writes to stdout (export's JSON lines): a live display must not capture it.
        redirect_stdout=False,
        redirect_stderr=False,
    ) as progress:
        task = progress.add_task(label, total=total)
        return work(lambda: progress.advance(task))


def _print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, ensure_ascii=False, default=str) + "\n")
