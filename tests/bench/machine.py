"""The machine a run was on: CPU, memory, PostgreSQL and package versions."""

from __future__ import annotations

import os
import platform
from importlib import metadata
from pathlib import Path
from typing import Any

import psycopg

PACKAGES = (
    "chatledger",
    "eventsourcing",
    "psycopg",
    "pydantic",
    "tiktoken",
    "cryptography",
    "langchain-core",
    "langchain-postgres",
    "matplotlib",
)
SERVER_SETTINGS = ("server_version", "synchronous_commit", "fsync", "shared_buffers")


def _cpu_model() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    return platform.processor() or platform.machine()


def _memory_gib() -> float | None:
    try:
        return round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError, AttributeError):
        return None


def _load() -> list[float] | None:
    # Other work on the machine shows here; figures taken under load are slower and noisier.
    try:
        return [round(load, 2) for load in os.getloadavg()]
    except OSError:
        return None


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def describe(conninfo: str) -> dict[str, Any]:
    """CPU model, cores, RAM, OS, Python, the server's version and durability settings."""
    with psycopg.connect(conninfo, autocommit=True) as conn:
        server = {
            name: str(conn.execute(f"SHOW {name}").fetchone()[0])  # type: ignore[index]
            for name in SERVER_SETTINGS
        }
        server["host"] = conn.info.host
    return {
        "load_average_at_start": _load(),
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "memory_gib": _memory_gib(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "postgresql": server,
        "packages": {package: _version(package) for package in PACKAGES},
    }


def summary(machine: dict[str, Any]) -> str:
    """One line: what ran where."""
    server = machine["postgresql"]
    return (
        f"{machine['cpu']}, {machine['cores']} cores, {machine['memory_gib']} GiB RAM, "
        f"{machine['os']}; load average {machine['load_average_at_start']} at start; "
        f"Python {machine['python']}; PostgreSQL {server['server_version']} "
        f"on {server['host']} (synchronous_commit={server['synchronous_commit']}, "
        f"fsync={server['fsync']}, shared_buffers={server['shared_buffers']})"
    )
