"""Server-side SVG charts for the dashboard: no script, no outside network.

Every label is escaped; sizes are in the SVG's own units and the chart scales to its box.
"""
from __future__ import annotations

from typing import Sequence

from markupsafe import Markup, escape

BAR_COLORS = ("#4c6ef5", "#12b886", "#fab005", "#fa5252", "#7950f2", "#868e96")


def _fmt(value: float) -> str:
    if isinstance(value, float) and not value.is_integer():
        return f"{value:.4f}".rstrip("0").rstrip(".") if value < 1 else f"{value:,.2f}"
    return f"{int(value):,}".replace(",", " ")


def hbars(rows: Sequence[tuple[str, float]], chart_id: str, unit: str = "",
          width: int = 520, row_h: int = 30) -> Markup:
    """Horizontal bars, one per (label, value): funnel stages, revenue, reminder outcomes."""
    label_w, pad = 170, 8
    top = max([v for _, v in rows] + [0]) or 1
    height = row_h * len(rows) + pad
    parts = [(f'<svg id="{escape(chart_id)}" class="chart" viewBox="0 0 {width} {height}" '
              f'width="100%" role="img" xmlns="http://www.w3.org/2000/svg">')]
    bar_space = width - label_w - 90
    for i, (label, value) in enumerate(rows):
        y = pad + i * row_h
        w = max(2.0, bar_space * value / top) if value else 0
        color = BAR_COLORS[i % len(BAR_COLORS)]
        parts.append(f'<text x="{label_w - 8}" y="{y + row_h / 2 + 1}" text-anchor="end" '
                     f'dominant-baseline="middle" font-size="13" fill="#1f2430">'
                     f'{escape(label)}</text>')
        shown = f"{_fmt(value)}{unit}"
        parts.append(f'<rect x="{label_w}" y="{y + 4}" width="{w:.1f}" height="{row_h - 10}" '
                     f'rx="3" fill="{color}"><title>{escape(label)}: {shown}</title></rect>')
        parts.append(f'<text x="{label_w + w + 6:.1f}" y="{y + row_h / 2 + 1}" font-size="13" '
                     f'dominant-baseline="middle" fill="#1f2430" class="v">{shown}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def columns(points: Sequence[tuple[str, float]], chart_id: str, unit: str = "",
            width: int = 900, height: int = 200) -> Markup:
    """Vertical columns over days (model cost per day); every ~7th day labelled."""
    left, bottom, top_pad = 60, 24, 14
    n = max(len(points), 1)
    top = max([v for _, v in points] + [0]) or 1
    plot_h, step = height - bottom - top_pad, (width - left - 8) / n
    parts = [(f'<svg id="{escape(chart_id)}" class="chart" viewBox="0 0 {width} {height}" '
              f'width="100%" role="img" xmlns="http://www.w3.org/2000/svg">'),
             (f'<line x1="{left}" y1="{height - bottom}" x2="{width - 4}" y2="{height - bottom}" '
              f'stroke="#ced4da"/>'),
             (f'<text x="{left - 6}" y="{top_pad + 4}" text-anchor="end" font-size="11" '
              f'fill="#6b7280">{_fmt(top)}{unit}</text>'),
             (f'<text x="{left - 6}" y="{height - bottom}" text-anchor="end" font-size="11" '
              f'fill="#6b7280">0</text>')]
    every = max(1, round(n / 10))
    for i, (label, value) in enumerate(points):
        h = plot_h * value / top
        x = left + i * step
        parts.append(f'<rect x="{x + step * 0.15:.1f}" y="{height - bottom - h:.1f}" '
                     f'width="{step * 0.7:.1f}" height="{h:.1f}" fill="#4c6ef5">'
                     f'<title>{escape(label)}: {_fmt(value)}{unit}</title></rect>')
        if i % every == 0:
            parts.append(f'<text x="{x + step / 2:.1f}" y="{height - 8}" text-anchor="middle" '
                         f'font-size="11" fill="#6b7280">{escape(label)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
