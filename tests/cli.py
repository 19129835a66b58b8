"""Running the installed `chatledger` executable as a user's shell does, for the e2e tests."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

EXECUTABLE = Path(sys.executable).with_name("chatledger")
"""The console script pip installed beside this interpreter."""

Result = subprocess.CompletedProcess[str]


def run(
    *args: str,
    cwd: Path,
    stdin: str | None = None,
    env: dict[str, str] | None = None,
    unset: Iterable[str] = ("CHATLEDGER_DATABASE_URL",),
) -> Result:
    """``chatledger ARGS`` in ``cwd``, with the variables ``unset`` names removed first."""
    removed = set(unset)
    environment = {k: v for k, v in os.environ.items() if k not in removed}
    environment.update(env or {})
    return subprocess.run(
        [str(EXECUTABLE), *args],
        cwd=cwd,
        input=stdin,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
