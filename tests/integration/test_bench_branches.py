"""The branches benchmark runs end to end at toy size and prints its table. Nothing is timed."""

from __future__ import annotations

import io
import re
from contextlib import redirect_stdout

import pytest

from tests.bench import branches

pytestmark = pytest.mark.postgres

RATIO = re.compile(r"\d+\.\d\dx")
MILLISECONDS = re.compile(r"\d+\.\d\d ms")


@pytest.fixture(scope="module")
def printed(postgres_server_url: str) -> tuple[int, str]:
    """One toy run, forked at 30 and 58 of 60: its exit code and its stdout."""
    toy = ("--messages", "60", "--forks", "30,58", "--own", "3", "--runs", "3", "--batch", "25")
    out = io.StringIO()
    with redirect_stdout(out):
        code = branches.main(["--db", postgres_server_url, *toy])
    return code, out.getvalue()


def table_rows(text: str) -> list[list[str]]:
    return [
        [cell.strip() for cell in line.strip("|").split("|")]
        for line in text.splitlines()
        if line.startswith("| ")
    ]


def test_a_toy_run_succeeds(printed: tuple[int, str]) -> None:
    code, _ = printed

    assert code == 0


def test_the_table_has_a_column_for_the_unforked_conversation_and_each_fork(
    printed: tuple[int, str],
) -> None:
    _, text = printed

    header = table_rows(text)[0]

    assert header == [
        "read", "unforked (60)", "fork at 30", "fork / unforked", "fork at 58", "fork / unforked",
    ]  # fmt: skip


def test_each_read_has_a_row_of_medians_and_ratios(printed: tuple[int, str]) -> None:
    _, text = printed

    rows = table_rows(text)[2:]

    assert [row[0] for row in rows] == [
        "memory view, 4,000-token TokenWindow",
        "newest 50 messages",
    ]
    for row in rows:
        assert all(MILLISECONDS.fullmatch(cell) for cell in (row[1], row[2], row[4]))
        assert all(RATIO.fullmatch(cell) for cell in (row[3], row[5]))


def test_the_goal_and_the_machine_are_printed_under_the_table(printed: tuple[int, str]) -> None:
    _, text = printed

    goal = r"^Goal: every fork within 1\.5x of unforked; worst \d+\.\d\dx: (met|missed)\.$"
    assert re.search(goal, text, re.MULTILINE)
    assert "Machine: " in text
    assert "PostgreSQL" in text


def test_a_fork_point_past_the_history_is_refused_before_anything_runs(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exited:
        branches.main(["--messages", "10", "--forks", "5,11"])

    assert exited.value.code == 2
    assert "every fork point must be within 1..10" in capsys.readouterr().err
