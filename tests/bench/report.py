"""The run's report: rich tables on the console, and every figure as JSON."""

from __future__ import annotations

import json
from pathlib import Path

from rich.console import Console
from rich.table import Table

from tests.bench.machine import summary
from tests.bench.results import Figure, Results, shown, times


def _speedup(figure: Figure) -> str:
    speedup = figure.speedup
    return (figure.note or "-") if speedup is None else times(speedup)


def figures_table(results: Results) -> Table:
    """One row per figure and peer: chatledger's median, the peer's, and chatledger's lead."""
    table = Table(title="chatledger vs peers (medians; lead above 1x = chatledger faster)")
    for column in ("Figure", "History", "chatledger", "Peer", "Peer value", "Lead"):
        table.add_column(column, justify="left" if column in ("Figure", "Peer") else "right")
    for figure in results.figures:
        table.add_row(
            figure.label,
            "-" if figure.history is None else f"{figure.history:,}",
            shown(figure.chatledger, figure.unit),
            figure.peer or "-",
            shown(figure.peer_value, figure.unit),
            _speedup(figure),
        )
    return table


def targets_table(results: Results) -> Table:
    """The issue's targets and whether this run met them."""
    table = Table(title="Targets")
    for column in ("Target", "Goal", "Measured", "Met"):
        table.add_column(column)
    for target in results.targets:
        table.add_row(
            target.name,
            target.goal,
            target.measured,
            "[green]yes[/green]" if target.met else "[red]no[/red]",
        )
    return table


def print_report(console: Console, results: Results) -> None:
    """The machine line, both tables, and where the time goes when a write target is missed."""
    console.print(f"Machine: {summary(results.machine)}")
    console.print(figures_table(results))
    console.print(targets_table(results))
    for name, shares in results.diagnostics.get("profiles", {}).items():
        parts = ", ".join(
            f"{bucket} {share:.0%}" for bucket, share in shares.items() if share >= 0.03
        )
        console.print(f"Profile of {name}: {parts}")
    steps = results.diagnostics.get("recorder_protocol_ms", {})
    if steps:
        parts = "; ".join(f"{step} {ms:.2f} ms" for step, ms in steps.items())
        console.print(f"The recorder's SQL alone, per save (plain psycopg): {parts}")
    for name, figures in results.diagnostics.get("what_if_library_recorder_single", {}).items():
        console.print(
            f"What-if, 1 writer, {name}: {figures['ms per call']:.2f} ms per record, "
            f"{figures['client cpu ms per call']:.2f} ms of it client CPU"
        )
    for name, rate in results.diagnostics.get("what_if_library_recorder_writers", {}).items():
        console.print(f"What-if, library recorder, {name}: {rate:,.0f}")
    for key, title, unit in (
        ("writers_scaling_msg_per_s", "Total msg/s by writer count", "{:,.0f}"),
        ("writers_client_cpu_ms_per_msg", "Client CPU ms per message by writer count", "{:.2f}"),
    ):
        by_count = results.diagnostics.get(key, {})
        if by_count:
            parts = "; ".join(
                f"{count}: " + ", ".join(f"{kind} {unit.format(v)}" for kind, v in values.items())
                for count, values in by_count.items()
            )
            console.print(f"{title}: {parts}")
    for kind, waits in results.diagnostics.get("writer_waits", {}).items():
        parts = ", ".join(f"{what} {share:.0%}" for what, share in waits.items() if share >= 0.01)
        console.print(f"8 {kind} writers' backends, sampled: {parts}")


def write_json(results: Results, path: Path) -> None:
    """Every figure, target and diagnostic, with the machine, as indented JSON."""
    path.write_text(json.dumps(results.to_json(), indent=2) + "\n")
