"""The attachments benchmark runs on every backend and prints its rows. Nothing here is timed."""

from __future__ import annotations

import pytest

from tests.bench.attachments import main


@pytest.mark.postgres
def test_the_attachments_benchmark_prints_a_row_for_every_backend_and_form(
    postgres_server_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["--db", postgres_server_url, "--repeat", "2", "--image-bytes", "40000"])

    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| ")]
    assert code == 0
    assert len(rows) == (2 + 3 * 2) + (2 + 3) + (2 + 3)
    assert any(row.startswith("| postgresql | attachment |") for row in rows)
    renders = [row for row in rows if row.count(" ms |") == 4]
    assert [row.split(" | ")[0] for row in renders] == ["| memory", "| sqlite", "| postgresql"]
