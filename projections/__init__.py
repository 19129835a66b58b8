"""What is derived from a conversation's events: the history view and the memory view."""

from chatledger.domain.policies import MessageWindow, Policy, SummaryWindow, TokenWindow
from chatledger.domain.summaries import Summary
from chatledger.projections.history import HistoryEntry, HistoryView
from chatledger.projections.memory import (
    Exclusion,
    MemoryExplanation,
    MemoryView,
    SummaryEntry,
    build_memory,
    explain_memory,
    memory_of,
)
from chatledger.projections.prompt_text import DEFAULT_PROMPT_TEMPLATE
from chatledger.projections.renderings import (
    Omission,
    Rendering,
    to_anthropic,
    to_openai,
    to_responses,
)
from chatledger.projections.summaries import (
    build_summary_memory,
    explain_summary_memory,
    summary_memory_of,
)

__all__ = [
    "DEFAULT_PROMPT_TEMPLATE",
    "Exclusion",
    "HistoryEntry",
    "HistoryView",
    "MemoryExplanation",
    "MemoryView",
    "MessageWindow",
    "Omission",
    "Policy",
    "Rendering",
    "Summary",
    "SummaryEntry",
    "SummaryWindow",
    "TokenWindow",
    "build_memory",
    "build_summary_memory",
    "explain_memory",
    "explain_summary_memory",
    "memory_of",
    "summary_memory_of",
    "to_anthropic",
    "to_openai",
    "to_responses",
]
