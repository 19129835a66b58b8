"""What is derived from a conversation's events: the history view and the memory view."""

from chatledger.domain.policies import MessageWindow, Policy, TokenWindow
from chatledger.projections.history import HistoryEntry, HistoryView
from chatledger.projections.memory import (
    Exclusion,
    MemoryExplanation,
    MemoryView,
    build_memory,
    explain_memory,
    memory_of,
)
from chatledger.projections.renderings import (
    Omission,
    Rendering,
    Resolver,
    to_anthropic,
    to_openai,
    to_responses,
)

__all__ = [
    "Exclusion",
    "HistoryEntry",
    "HistoryView",
    "MemoryExplanation",
    "MemoryView",
    "MessageWindow",
    "Omission",
    "Policy",
    "Rendering",
    "Resolver",
    "TokenWindow",
    "build_memory",
    "explain_memory",
    "memory_of",
    "to_anthropic",
    "to_openai",
    "to_responses",
]
