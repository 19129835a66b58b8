"""What is derived from a conversation's events: the history view and the memory view."""

from chatledger.domain.policies import MessageWindow, Policy, TokenWindow
from chatledger.projections.formats import to_anthropic, to_openai
from chatledger.projections.history import HistoryEntry, HistoryView
from chatledger.projections.memory import (
    Exclusion,
    MemoryExplanation,
    MemoryView,
    build_memory,
    explain_memory,
    memory_of,
)

__all__ = [
    "Exclusion",
    "HistoryEntry",
    "HistoryView",
    "MemoryExplanation",
    "MemoryView",
    "MessageWindow",
    "Policy",
    "TokenWindow",
    "build_memory",
    "explain_memory",
    "memory_of",
    "to_anthropic",
    "to_openai",
]
