"""Charts for pages (SVG) and documents (PNG), drawn by matplotlib without a display.

    svg = bar_chart(["Сентябрь", "Октябрь"], [12, 15], title="Посещаемость", fmt="svg")
    png = bar_chart(labels, values, title=..., fmt="png", horizontal=True)

Labels are text (never markup): the SVG escapes them, so the result can be inlined in a page
with ``|safe`` or served as ``image/svg+xml``.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Sequence
from typing import Literal

import matplotlib

matplotlib.use("Agg")
matplotlib.rcParams["svg.fonttype"] = "none"  # text stays text in SVG (selectable, small)
matplotlib.rcParams["font.family"] = "DejaVu Sans"  # bundled with matplotlib; has Cyrillic

from matplotlib.figure import Figure  # noqa: E402

_LOCK = threading.Lock()  # matplotlib's text layout caches are not thread-safe
ACCENT = "#2f6fb0"


def bar_chart(
    labels: Sequence[str],
    values: Sequence[float],
    *,
    title: str = "",
    fmt: Literal["svg", "png"] = "svg",
    horizontal: bool = False,
    value_suffix: str = "",
    width_in: float = 7.0,
    height_in: float | None = None,
) -> bytes:
    """A single-series bar chart with each bar's value written on it."""
    labels = [str(x) for x in labels]
    values = [float(v) for v in values]
    if height_in is None:
        height_in = max(2.2, 0.38 * len(labels) + 1.0) if horizontal else 3.4
    with _LOCK:
        fig = Figure(figsize=(width_in, height_in), dpi=150 if fmt == "png" else 72)
        ax = fig.add_subplot()
        positions = list(range(len(labels)))
        if horizontal:
            bars = ax.barh(positions, values, color=ACCENT)
            ax.set_yticks(positions, labels)
            ax.invert_yaxis()
        else:
            bars = ax.bar(positions, values, color=ACCENT)
            ax.set_xticks(
                positions,
                labels,
                rotation=30 if max((len(x) for x in labels), default=0) > 8 else 0,
                ha="right" if max((len(x) for x in labels), default=0) > 8 else "center",
            )
        ax.bar_label(bars, labels=[f"{v:g}{value_suffix}" for v in values], padding=2, fontsize=8)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        if title:
            ax.set_title(title, fontsize=11)
        ax.tick_params(labelsize=8)
        if not values or max(values) <= 0:
            (ax.set_xlim if horizontal else ax.set_ylim)(0, 1)
        fig.tight_layout()
        out = io.BytesIO()
        fig.savefig(out, format=fmt)
    return out.getvalue()
