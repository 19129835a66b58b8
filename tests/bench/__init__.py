"""The benchmark: chatledger beside the stores users would pick instead, on one PostgreSQL."""

from tests.bench.cli import main

__all__ = ["main"]
