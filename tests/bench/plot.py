"""The plot: median latency against history length, log-log, chatledger beside LangChain."""

from __future__ import annotations

from pathlib import Path

from tests.bench.results import Results


def draw(results: Results, path: Path) -> None:
    """Draw memory view and newest-50 latencies of both stores by history length to a PNG."""
    import matplotlib

    matplotlib.use("Agg")  # files only, never a display
    from matplotlib import pyplot, ticker

    figure, axes = pyplot.subplots(figsize=(8, 5), dpi=120)
    lines = (
        ("memory", False, "chatledger memory(TokenWindow 4,000)", "tab:blue", "-"),
        ("memory_summaries", False, "chatledger memory(SummaryWindow 4,000)", "tab:purple", "-"),
        ("newest_page", False, "chatledger history(limit=50)", "tab:green", "-"),
        ("memory", True, "LangChain .messages + trim_messages", "tab:red", "--"),
        ("newest_page", True, "LangChain .messages[-50:]", "tab:orange", "--"),
    )
    for kind, peer, label, colour, style in lines:
        points = [
            (f.history, f.peer_value if peer else f.chatledger)
            for f in results.find(kind)
            if f.history is not None and (f.peer_value if peer else f.chatledger) is not None
        ]
        if points:
            xs, ys = zip(*points, strict=True)
            axes.plot(xs, ys, style, marker="o", color=colour, label=label)
    axes.set_xscale("log")
    axes.set_yscale("log")
    plain = ticker.FuncFormatter(lambda value, _: f"{value:,.0f}" if value >= 1 else f"{value:g}")
    axes.xaxis.set_major_formatter(plain)
    axes.yaxis.set_major_formatter(plain)
    cap = results.settings.get("peer_cap")
    if cap and any(f.peer_value is None for f in results.find("memory")):
        axes.axvline(cap, color="grey", linewidth=0.8, linestyle=":")
        axes.text(
            cap,
            0.5,
            f" LangChain not run above {cap:,}",
            color="grey",
            transform=axes.get_xaxis_transform(),
            fontsize="small",
        )
    axes.set_xlabel("messages in the conversation")
    axes.set_ylabel("median latency per call (ms)")
    axes.set_title("Building the next LLM call and the newest page, by history length")
    axes.grid(True, which="both", linewidth=0.3)
    axes.legend(fontsize="small")
    figure.tight_layout()
    figure.savefig(path, format="png")
    pyplot.close(figure)
