"""What a run measured: figures beside their peers, and the targets they are held to."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from tests.bench.timing import Sample

Unit = Literal["ms", "msg/s"]

FIGURES = (
    "record_single",
    "record_turn",
    "record_writers_1",
    "record_writers_8",
    "memory",
    "memory_summaries",
    "newest_page",
    "memory_at_middle",
    "audit_replay",
)
"""Every figure a run reports; the test checks each is there."""


def shown(value: float | None, unit: str, *, missing: str = "-") -> str:
    """A figure's value as people read it: 4.31 ms, 1,432 ms, 11,581 msg/s."""
    if value is None:
        return missing
    if unit == "msg/s":
        return f"{value:,.0f} msg/s"
    return f"{value:,.2f} ms" if value < 100 else f"{value:,.0f} ms"


def times(ratio: float) -> str:
    """A ratio as people read it: 0.42x, 7.5x, 83x."""
    if ratio < 1:
        return f"{ratio:.2f}x"
    return f"{ratio:,.1f}x" if ratio < 10 else f"{ratio:,.0f}x"


@dataclass(frozen=True)
class Figure:
    """One measured figure of chatledger beside one peer measured in the same run."""

    figure: str
    label: str
    unit: Unit
    chatledger: float
    peer: str | None = None
    peer_value: float | None = None
    history: int | None = None
    runs: int = 0
    peer_runs: int = 0
    note: str = ""
    chatledger_cpu: float | None = None
    """Milliseconds of client CPU per call: the rest of the latency is waiting on the server."""
    peer_cpu: float | None = None

    @classmethod
    def latency(
        cls,
        what: tuple[str, str, str],
        ours: Sample,
        theirs: Sample | None,
        *,
        history: int | None = None,
        note: str = "",
    ) -> Figure:
        """A latency figure (ms per call) from two samples; ``what`` is figure, label, peer."""
        figure, label, peer = what
        return cls(
            figure,
            label,
            "ms",
            ours.median * 1e3,
            peer,
            None if theirs is None else theirs.median * 1e3,
            history=history,
            runs=ours.runs,
            peer_runs=0 if theirs is None else theirs.runs,
            note=note,
            chatledger_cpu=ours.cpu * 1e3,
            peer_cpu=None if theirs is None else theirs.cpu * 1e3,
        )

    @property
    def speedup(self) -> float | None:
        """How many times better chatledger does than the peer (above 1: chatledger wins)."""
        if self.peer_value is None:
            return None
        if self.unit == "ms":
            return self.peer_value / self.chatledger
        return self.chatledger / self.peer_value


@dataclass(frozen=True)
class Target:
    """A goal from the issue, the measured value it is judged on, and whether it was met."""

    name: str
    goal: str
    measured: str
    met: bool


@dataclass
class Results:
    """Everything one run produced, ready for the table, the JSON and the plot."""

    machine: dict[str, Any]
    settings: dict[str, Any]
    figures: list[Figure] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    diagnostics: dict[str, Any] = field(default_factory=dict)

    def find(self, figure: str, peer: str | None = None) -> list[Figure]:
        """The figures of one kind (and one peer, if given), in the order measured."""
        return [f for f in self.figures if f.figure == figure and (peer is None or f.peer == peer)]

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict: every figure with its speedup, the targets, the diagnostics."""
        return {
            "machine": self.machine,
            "settings": self.settings,
            "figures": [asdict(f) | {"speedup": f.speedup} for f in self.figures],
            "targets": [asdict(t) for t in self.targets],
            "diagnostics": self.diagnostics,
        }
