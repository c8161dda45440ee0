"""How results are shown: one number format for the tables and plot legends, one style of curve plot."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure


def format_value(value: Any) -> str:
    """Three decimals, ints as ints, lists in brackets, and a dash where there is nothing (None or NaN)."""
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(format_value(v) for v in value) + "]"
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    return f"{value:.3f}"


def curve_plot(path: Path, title: str, xlabel: str, ylabel: str, curves: list[tuple[np.ndarray, np.ndarray, str]],
               span: tuple[float, float] | None = None, span_label: str | None = None) -> Path:
    """One line per ``(x, y, label)`` on a 0..1 y axis; ``span`` shades the x range a summary averages over."""
    fig = Figure(figsize=(6, 4.5))
    ax = fig.subplots()
    for x, y, label in curves:
        ax.plot(x, y, label=label, linewidth=2)
    if span is not None:
        ax.axvspan(*span, color="grey", alpha=0.15, label=span_label)
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel, ylim=(0, 1.02))
    ax.grid(alpha=0.3)
    ax.legend(loc="best")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    return path
