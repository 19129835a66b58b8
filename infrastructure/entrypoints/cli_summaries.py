"""Summary commands: list a conversation's summaries, and compact it with a summarizer."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from chatledger.domain import InvalidInput, Summary, SummaryWindow, UnknownConversation
from chatledger.infrastructure.entrypoints.cli_commands import (
    AddCommand,
    Command,
    OpenLedger,
    print_json,
)
from chatledger.infrastructure.ledger import ChatLedger

OK = 0
DEFAULT_COMPACT_TOKENS = 4000
"""The summary window `compact` works out what is left out of, unless given --max-tokens."""
PREVIEW_CHARACTERS = 120


def add_commands(commands: Any, add: AddCommand, open_ledger: OpenLedger) -> None:
    """Register `summaries` and `compact`; each opens the ledger the options name."""

    def with_ledger(
        run: Callable[[argparse.Namespace, ChatLedger], int], *, counter_model: bool = True
    ) -> Command:
        def command(args: argparse.Namespace) -> int:
            # compact's --model names the summarizer's model, not the one to count tokens as.
            opened = args if counter_model else argparse.Namespace(**{**vars(args), "model": None})
            with open_ledger(opened, must_exist=True) as ledger:
                return run(args, ledger)

        return command

    listed = add(
        commands, "summaries", "list a conversation's summaries", with_ledger(run_summaries)
    )
    listed.add_argument("conversation", metavar="CONV", help="conversation id")

    compact = add(
        commands,
        "compact",
        "summarize what the memory view leaves out, through an OpenAI-compatible endpoint",
        with_ledger(run_compact, counter_model=False),
        counter=False,
    )
    compact.add_argument("conversation", metavar="CONV", help="conversation id")
    compact.add_argument(
        "--base-url",
        required=True,
        metavar="URL",
        help="the Chat Completions endpoint's base, e.g. http://localhost:11434/v1 "
        "(key: $OPENAI_API_KEY, if it needs one)",
    )
    compact.add_argument(
        "--model",
        required=True,
        metavar="NAME",
        help="the model that writes the summary (tokens are counted with --encoding)",
    )
    compact.add_argument(
        "--encoding",
        metavar="NAME",
        default=argparse.SUPPRESS,
        help="tiktoken encoding the summary is counted with (cl100k_base)",
    )
    compact.add_argument(
        "--max-tokens",
        type=int,
        default=DEFAULT_COMPACT_TOKENS,
        metavar="T",
        help=f"the summary window's budget (default: {DEFAULT_COMPACT_TOKENS})",
    )
    compact.add_argument(
        "--start-on-user", action="store_true", help="the window drops leading units to a user"
    )
    compact.add_argument(
        "--after-tokens",
        type=int,
        metavar="N",
        help="only once what is left out reaches N tokens (the policy's compact_after_tokens)",
    )
    compact.add_argument(
        "--timeout", type=float, default=120.0, metavar="S", help="seconds to wait (120)"
    )
    compact.add_argument(
        "--template", metavar="FILE", help="the prompt, holding {previous} and {messages}"
    )


def run_summaries(args: argparse.Namespace, ledger: ChatLedger) -> int:
    """Print the conversation's summaries, oldest first."""
    if not ledger.version(args.conversation):
        raise UnknownConversation(args.conversation)
    found = ledger.summaries(args.conversation)
    if args.json:
        for summary in found:
            print_json(summary.model_dump(mode="json"))
        return OK
    table = Table("#", "covers", "recorded at", "model", "tokens", "text", title=args.shown)
    for summary in found:
        table.add_row(*_row(summary))
    if not found:
        table.caption = "no summaries yet: `chatledger compact CONV` records one"
    Console(highlight=False).print(table)
    return OK


def run_compact(args: argparse.Namespace, ledger: ChatLedger) -> int:
    """Summarize what a summary window leaves out; record it, or say nothing was left out."""
    from chatledger.infrastructure.summarizers import (
        DEFAULT_SUMMARIZER_TEMPLATE,
        OpenAISummarizer,
    )

    template = DEFAULT_SUMMARIZER_TEMPLATE
    if args.template is not None:
        try:
            with open(args.template, encoding="utf-8") as file:
                template = file.read()
        except (OSError, UnicodeDecodeError) as exc:
            raise InvalidInput("--template", f"cannot read {args.template!r}: {exc}") from None
    policy = SummaryWindow(
        max_tokens=args.max_tokens,
        start_on_user=args.start_on_user,
        compact_after_tokens=args.after_tokens,
    )
    summarizer = OpenAISummarizer(
        args.base_url, args.model, template=template, timeout=args.timeout, max_retries=0
    )
    try:
        summary = ledger.compact(args.conversation, summarizer, policy, timeout=args.timeout)
    finally:
        summarizer.close()
    if args.json:
        print_json(None if summary is None else summary.model_dump(mode="json"))
    elif summary is None:
        print(f"{args.shown}: nothing to compact: the window leaves nothing out")
    else:
        print(
            f"{args.shown}: recorded summary #{summary.number} of messages 1-{summary.covers} "
            f"({summary.tokens} tokens, by {summary.model})"
        )
    return OK


def _row(summary: Summary) -> list[str | Text]:
    text = "(erased)" if summary.erased else " ".join(summary.text.split())
    if len(text) > PREVIEW_CHARACTERS:
        text = text[: PREVIEW_CHARACTERS - 1] + "…"
    return [
        str(summary.number),
        f"1-{summary.covers}",
        summary.recorded_at.strftime("%m-%d %H:%M:%S"),
        Text(summary.model or ""),
        str(summary.tokens),
        Text(text, overflow="fold"),
    ]
