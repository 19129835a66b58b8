"""The benchmark runs end to end at toy sizes, so it cannot rot. Nothing here is timed."""

from __future__ import annotations

import io
import json
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.bench import async_overhead, main
from tests.bench.results import FIGURES

pytestmark = pytest.mark.postgres

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def quick_run(
    postgres_server_url: str, tmp_path_factory: pytest.TempPathFactory
) -> tuple[int, str, Path]:
    """One toy-sized run: its exit code, what it printed, and its output directory."""
    out = tmp_path_factory.mktemp("bench")
    printed = io.StringIO()
    with redirect_stdout(printed):
        code = main(["--quick", "--db", postgres_server_url, "--out", str(out)])
    return code, printed.getvalue(), out


def _report(out: Path) -> dict[str, Any]:
    report: dict[str, Any] = json.loads((out / "latest.json").read_text())
    return report


def test_a_quick_run_succeeds(quick_run: tuple[int, str, Path]) -> None:
    code, _, _ = quick_run

    assert code == 0


def test_the_json_holds_every_figure(quick_run: tuple[int, str, Path]) -> None:
    _, _, out = quick_run

    figures = {figure["figure"] for figure in _report(out)["figures"]}

    assert figures == set(FIGURES)


def test_every_figure_and_its_peer_measured_more_than_nothing(
    quick_run: tuple[int, str, Path],
) -> None:
    _, _, out = quick_run

    values = [(f["chatledger"], f["peer_value"]) for f in _report(out)["figures"]]

    assert all(ours > 0 and theirs is not None and theirs > 0 for ours, theirs in values)


def test_the_json_describes_the_machine_and_judges_every_target(
    quick_run: tuple[int, str, Path],
) -> None:
    _, _, out = quick_run

    report = _report(out)

    assert report["machine"]["postgresql"]["server_version"]
    assert report["machine"]["cores"] >= 1
    assert len(report["targets"]) == 9
    assert all(isinstance(target["met"], bool) for target in report["targets"])


def test_every_writer_kind_is_timed_at_every_writer_count(
    quick_run: tuple[int, str, Path],
) -> None:
    _, _, out = quick_run
    diagnostics = _report(out)["diagnostics"]
    rates = diagnostics["writers_scaling_msg_per_s"]
    cpu = diagnostics["writers_client_cpu_ms_per_msg"]

    assert list(rates) == ["1", "2", "4", "8"]
    assert cpu.keys() == rates.keys()
    for count, by_kind in rates.items():
        assert {"chatledger", "raw", "raw-global-lock"} <= by_kind.keys()
        assert cpu[count].keys() == by_kind.keys()
        assert all(rate > 0 for rate in by_kind.values())
        assert all(ms > 0 for ms in cpu[count].values())


def test_the_plot_is_a_png(quick_run: tuple[int, str, Path]) -> None:
    _, _, out = quick_run

    assert (out / "latency.png").read_bytes()[:8] == PNG_SIGNATURE


def test_the_table_is_printed(quick_run: tuple[int, str, Path]) -> None:
    _, printed, _ = quick_run

    assert "chatledger vs peers" in printed
    assert "Targets" in printed
    assert "Machine:" in printed


def test_the_run_drops_its_schema(
    quick_run: tuple[int, str, Path], postgres_server_url: str
) -> None:
    _, _, out = quick_run
    schema = _report(out)["settings"]["schema"]

    with psycopg.connect(postgres_server_url) as conn:
        found = conn.execute(
            "SELECT count(*) FROM information_schema.schemata WHERE schema_name = %s", (schema,)
        ).fetchone()

    assert schema.startswith("bench_")
    assert found == (0,)


def test_the_async_overhead_bench_prints_each_figure_for_both_apis(
    postgres_server_url: str,
) -> None:
    printed = io.StringIO()
    with redirect_stdout(printed):
        code = async_overhead.main(
            ["--db", postgres_server_url, "--messages", "60", "--calls", "3"]
        )

    rows = [line for line in printed.getvalue().splitlines() if line.startswith("| ")][2:]
    assert code == 0
    assert [row.split(" | ")[0] for row in rows] == [
        "| record, 1 message a call",
        "| memory view, 4,000-token window",
        "| newest 50 messages",
    ]
    assert all(row.count(" ms ") == 2 for row in rows)
