"""The wheel as users get it: one chatledger package, whatever else is installed beside it."""

from __future__ import annotations

import base64
import csv
import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from email.parser import Parser
from pathlib import Path

import pytest

from tests.documents import README, ROOT, python_blocks

pytestmark = pytest.mark.slow

NOT_SOURCE = shutil.ignore_patterns(
    ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", ".hypothesis"
)
STATIC = ROOT / "infrastructure/entrypoints/http/static"
BENCH_PEERS = re.compile(r"(langchain|matplotlib|pgserver)", re.IGNORECASE)
FRAMEWORKS = re.compile(r"(langchain|openai-agents|openai_agents|pydantic-ai|pydantic_ai)", re.I)
EXTRAS = {"langchain": "langchain-core", "agents": "openai-agents", "pydantic-ai": "pydantic-ai"}
BACKEND_WARNING = re.compile(r"\w+Warning: |^\s*warning: ", re.MULTILINE)
"""A Python warning (``SetuptoolsDeprecationWarning: ...``) or a distutils ``warning:`` line."""

APP_DOMAIN = '''"""The application's own domain, named as chatledger's layer is."""


class DomainEvent:
    """Something that happened in the application."""
'''
APP_INFRASTRUCTURE = '''"""The application's own infrastructure."""

OWNER = "the application"
'''
APP_RUN = """
import json

import domain
import infrastructure

seen = {"domain": domain.__file__, "infrastructure": infrastructure.__file__}
seen["event"] = domain.DomainEvent.__qualname__
"""
APP_REPORT = """
import chatledger

seen["chatledger"] = chatledger.__file__
print(json.dumps(seen))
"""


@dataclass(frozen=True)
class Built:
    """The wheel, and everything the build printed."""

    wheel: Path
    output: str

    def names(self) -> list[str]:
        with zipfile.ZipFile(self.wheel) as archive:
            return archive.namelist()

    def metadata(self) -> list[str]:
        with zipfile.ZipFile(self.wheel) as archive:
            text = archive.read(f"{self.dist_info}/METADATA").decode()
        return Parser().parsestr(text).get_all("Requires-Dist") or []

    @property
    def dist_info(self) -> str:
        name, version = self.wheel.name.split("-")[:2]
        return f"{name}-{version}.dist-info"


@dataclass(frozen=True)
class Venv:
    """A fresh venv holding the wheel, the app's packages and PyPI's infrastructure."""

    root: Path
    site_packages: Path
    app: Path

    @property
    def python(self) -> Path:
        return self.root / "bin" / "python"

    def run(
        self, *args: str | Path, cwd: Path, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        """Run a command in ``cwd`` with nothing of this process's paths in its environment."""
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
        return subprocess.run(
            [str(arg) for arg in args],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )


def _pip(*args: str | Path) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "pip", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=600,
        env={k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """The wheel, built from a copy of the working tree so no build output lands in it."""
    source = tmp_path_factory.mktemp("source") / "chatledger"
    shutil.copytree(ROOT, source, symlinks=True, ignore=NOT_SOURCE)
    out = tmp_path_factory.mktemp("wheel")
    output = _pip("wheel", "--no-deps", "--verbose", "--wheel-dir", out, source)
    (wheel,) = out.glob("chatledger-*.whl")
    return Built(wheel, output)


@pytest.fixture(scope="module")
def venv(built: Built, tmp_path_factory: pytest.TempPathFactory) -> Venv:
    """A new venv: the wheel (with its dependencies), the app's packages, PyPI's infrastructure."""
    root = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", str(root)], check=True, timeout=120)
    bare = Venv(root, root, root)
    packages = [f"{built.wheel}[encodings]", "infrastructure"]  # PyPI's infrastructure, too
    done = bare.run(bare.python, "-m", "pip", "install", *packages, cwd=root, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    purelib = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    site_packages = Path(bare.run(bare.python, "-c", purelib, cwd=root).stdout.strip())
    app = tmp_path_factory.mktemp("app")
    (app / "domain").mkdir()
    (app / "domain" / "__init__.py").write_text(APP_DOMAIN)
    (app / "infrastructure").mkdir()
    (app / "infrastructure" / "__init__.py").write_text(APP_INFRASTRUCTURE)
    (site_packages / "the_app.pth").write_text(f"{app}\n")
    return Venv(root, site_packages, app)


def _records(site_packages: Path) -> dict[str, list[tuple[str, str]]]:
    """Each installed distribution's name, and the (path, hash) rows of its RECORD."""
    records = {}
    for record in site_packages.glob("*.dist-info/RECORD"):
        name = record.parent.name.split("-")[0].lower()
        with record.open(newline="") as rows:
            records[name] = [(row[0], row[1]) for row in csv.reader(rows) if row]
    return records


def _owners(records: dict[str, list[tuple[str, str]]], entry: str) -> set[str]:
    """The distributions whose RECORD puts something at ``entry``, top level of site-packages."""
    return {name for name, rows in records.items() if any(_top(path) == entry for path, _ in rows)}


def _top(path: str) -> str:
    return path.split("/")[0]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _get(url: str) -> str:
    """The body of a 200 answer (urllib raises on any other)."""
    with urllib.request.urlopen(url, timeout=5) as response:
        body: bytes = response.read()
        return body.decode()


def test_the_build_prints_no_setuptools_warning(built: Built) -> None:
    assert BACKEND_WARNING.findall(built.output) == []


def test_the_wheel_ships_the_page_and_its_type_marker(built: Built) -> None:
    static = "chatledger/infrastructure/entrypoints/http/static"

    names = set(built.names())

    assert {f"{static}/index.html", f"{static}/app.js", f"{static}/style.css"} <= names
    assert "chatledger/py.typed" in names


def test_the_wheel_holds_no_tests_benchmark_or_images(built: Built) -> None:
    names = built.names()

    assert [name for name in names if "tests" in name.split("/") or "bench" in name] == []
    assert [name for name in names if name.endswith(".png")] == []


def test_installing_chatledger_pulls_no_benchmark_peer(built: Built) -> None:
    required = [line for line in built.metadata() if "extra ==" not in line]

    assert required
    assert [line for line in required if BENCH_PEERS.match(line)] == []


def test_installing_chatledger_pulls_no_framework_but_offers_each_as_an_extra(
    built: Built,
) -> None:
    metadata = built.metadata()
    required = [line for line in metadata if "extra ==" not in line]

    assert [line for line in required if FRAMEWORKS.match(line)] == []
    for extra, framework in EXTRAS.items():
        assert any(
            line.startswith(framework) and f'extra == "{extra}"' in line for line in metadata
        ), (extra, metadata)


def test_the_wheel_ships_the_adapters_as_chatledger_integrations(built: Built) -> None:
    names = set(built.names())

    assert {
        "chatledger/integrations/__init__.py",
        "chatledger/integrations/langchain.py",
        "chatledger/integrations/openai_agents.py",
        "chatledger/integrations/pydantic_ai.py",
    } <= names
    assert [n for n in names if n.startswith("chatledger/infrastructure/entrypoints/integ")] == []


def test_an_adapter_without_its_framework_names_the_extra_to_install(venv: Venv) -> None:
    listed = venv.run(venv.python, "-m", "pip", "list", "--format=json", cwd=venv.root)
    installed = [package["name"] for package in json.loads(listed.stdout)]
    tried = venv.run(venv.python, "-c", "import chatledger.integrations.langchain", cwd=venv.root)

    assert [name for name in installed if FRAMEWORKS.match(name)] == []
    assert tried.returncode == 1
    assert "pip install 'chatledger[langchain]'" in tried.stderr


def test_the_new_venv_holds_no_benchmark_peer(venv: Venv) -> None:
    listed = venv.run(venv.python, "-m", "pip", "list", "--format=json", cwd=venv.root)

    installed = [package["name"] for package in json.loads(listed.stdout)]

    assert "chatledger" in installed
    assert [name for name in installed if BENCH_PEERS.match(name)] == []


def test_the_readme_synopsis_runs_beside_the_apps_own_domain_and_infrastructure(
    venv: Venv,
) -> None:
    script = venv.app / "run_synopsis.py"  # run from the app's folder: its packages come first
    script.write_text(APP_RUN + python_blocks(README)[0] + APP_REPORT)

    done = venv.run(venv.python, script, cwd=venv.app)

    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.splitlines()[-1])
    assert Path(seen["domain"]).parent.parent == venv.app
    assert Path(seen["infrastructure"]).parent.parent == venv.app
    assert seen["event"] == "DomainEvent"
    assert Path(seen["chatledger"]) == venv.site_packages / "chatledger" / "__init__.py"


def test_the_apps_domain_event_still_imports(venv: Venv) -> None:
    code = "import domain; from domain import DomainEvent; print(domain.__file__)"

    done = venv.run(venv.python, "-c", code, cwd=venv.root)

    assert done.returncode == 0, done.stderr
    assert Path(done.stdout.strip()) == venv.app / "domain" / "__init__.py"


def test_pypis_infrastructure_is_installed_untouched(venv: Venv) -> None:
    code = "import importlib.util; print(importlib.util.find_spec('infrastructure').origin)"
    rows = _records(venv.site_packages)["infrastructure"]

    found = venv.run(venv.python, "-c", code, cwd=venv.root)
    changed = []
    for path, recorded in rows:
        if recorded:
            digest = hashlib.sha256((venv.site_packages / path).read_bytes()).digest()
            if recorded != "sha256=" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode():
                changed.append(path)

    assert Path(found.stdout.strip()) == venv.site_packages / "infrastructure" / "__init__.py"
    assert len(rows) > 10
    assert changed == []


def test_site_packages_holds_no_chatledger_module_outside_its_package(
    venv: Venv, built: Built
) -> None:
    records = _records(venv.site_packages)
    ours = [path for path, _ in records["chatledger"]]
    entries = sorted(entry.name for entry in venv.site_packages.iterdir())

    claimed = [entry for entry in entries if "chatledger" in _owners(records, entry)]

    assert claimed == sorted(["chatledger", built.dist_info])
    assert {_top(path) for path in ours if not path.startswith("..")} == set(claimed)
    assert [Path(path).name for path in ours if path.startswith("..")] == ["chatledger"]  # bin/
    assert "domain" not in entries
    assert "projections" not in entries
    assert _owners(records, "infrastructure") == {"infrastructure"}


def test_the_chatledger_command_runs_from_the_venv(venv: Venv) -> None:
    done = venv.run(venv.root / "bin" / "chatledger", "--help", cwd=venv.root)

    assert done.returncode == 0, done.stderr
    assert "usage: chatledger" in done.stdout
    assert "serve" in done.stdout


def test_the_installed_page_serves_its_static_files(venv: Venv, tmp_path: Path) -> None:
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    command = [str(venv.root / "bin" / "chatledger"), "serve", "--port", str(port)]
    command += ["--db", f"sqlite:///{tmp_path / 'served.db'}"]
    env = {**os.environ, "CHATLEDGER_SESSION_SECRET": "s" * 32}
    server = subprocess.Popen(
        command, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                _get(f"{base}/healthz")
                break
            except (urllib.error.URLError, ConnectionError):
                if server.poll() is not None or time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        page = _get(f"{base}/")
        served = {name: _get(f"{base}/static/{name}") for name in ("app.js", "style.css")}
    finally:
        server.terminate()
        server.wait(timeout=10)

    assert '<script src="/static/app.js"' in page
    assert served == {name: (STATIC / name).read_text() for name in served}
