"""The cryptography benchmark runs and prints a row for each piece. Nothing here is timed."""

from __future__ import annotations

import pytest

from tests.bench.crypto import main


def test_the_crypto_benchmark_prints_a_row_for_every_piece(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["--repeat", "3", "--chars", "40"])

    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| ")]
    assert code == 0
    assert len(rows) == 2 + 6
    assert any("keyed HMAC digest" in row for row in rows)
