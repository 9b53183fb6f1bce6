"""Inline SVG charts for the nightly report: plain markup, the same output for the same input.

Every mark (bar, segment, point) carries its data as ``data-*`` attributes and a ``<title>``
tooltip, so a test or a curious analyst can read the numbers behind the picture. Floats are
used for geometry only; the texts shown are formatted by the caller from ``Decimal``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, Decimal
from html import escape

WIDTH = 760


@dataclass(frozen=True)
class Mark:
    """One bar, segment or point: where it goes and what it means."""

    value: float  # geometry only
    attrs: Mapping[str, str] = field(default_factory=dict)  # data-* attributes
    title: str = ""  # tooltip
    css: str = ""  # colour class


@dataclass(frozen=True)
class Bar:
    """A row of a horizontal bar chart: label on the left, bar, text on the right."""

    label: str
    mark: Mark
    text: str


@dataclass(frozen=True)
class Column:
    """A stacked column: a label below it and its segments from the bottom up."""

    label: str
    segments: Sequence[Mark]
    text: str = ""  # above the column (e.g. the total), if room


@dataclass(frozen=True)
class Line:
    """A series of a line chart: a point per x position (None = no point)."""

    name: str
    css: str
    points: Sequence[Mark | None]


def _num(x: float) -> str:
    """Compact, deterministic coordinates."""
    text = f"{x:.1f}"
    return text[:-2] if text.endswith(".0") else text


def attrs(values: Mapping[str, str]) -> str:
    return "".join(f' {escape(k)}="{escape(str(v))}"' for k, v in values.items())


def _svg(width: float, height: float, label: str, body: list[str], css: str = "chart") -> str:
    return (f'<svg class="{css}" viewBox="0 0 {_num(width)} {_num(height)}" '
            f'width="{_num(width)}" height="{_num(height)}" role="img" '
            f'aria-label="{escape(label)}">'
            + "".join(body) + "</svg>")


def _title(text: str) -> str:
    return f"<title>{escape(text)}</title>" if text else ""


def _rect(x: float, y: float, w: float, h: float, mark: Mark, base_css: str) -> str:
    css = f"{base_css} {mark.css}".strip()
    return (f'<rect class="{escape(css)}" x="{_num(x)}" y="{_num(y)}" width="{_num(w)}" '
            f'height="{_num(h)}"{attrs(mark.attrs)}>{_title(mark.title)}</rect>')


def nice_ticks(top: Decimal, count: int = 4) -> list[Decimal]:
    """0 and round steps (1, 2, 2.5, 5 × 10^k) up to at least ``top``."""
    if top <= 0:
        return [Decimal(0), Decimal(1)]
    raw = top / count
    magnitude = Decimal(1).scaleb(raw.adjusted())
    step = magnitude * 10
    for m in (Decimal(1), Decimal(2), Decimal("2.5"), Decimal(5), Decimal(10)):
        if m * magnitude * count >= top:
            step = m * magnitude
            break
    n = int((top / step).to_integral_value(rounding=ROUND_CEILING))
    return [step * i for i in range(n + 1)]


def tick_text(value: Decimal) -> str:
    return f"{value:,.0f}" if value == value.to_integral_value() else f"{value:,.2f}"


def hbar_chart(bars: Sequence[Bar], *, label: str, scale_max: float | None = None,
               reference: tuple[float, str] | None = None, label_width: float = 170,
               text_width: float = 230) -> str:
    """Horizontal bars, one row each; ``reference`` draws a dashed line (e.g. 100 %)."""
    row, bar_h = 26.0, 18.0
    top = 18.0 if reference else 4.0
    area = WIDTH - label_width - text_width
    biggest = max((abs(b.mark.value) for b in bars), default=0.0)
    scale = scale_max if scale_max else (biggest or 1.0)
    height = top + len(bars) * row + 4
    body: list[str] = []
    if reference:  # under the bars and their texts
        value, text = reference
        x = label_width + area * min(value / scale, 1.0)
        body.append(f'<line class="reference" x1="{_num(x)}" y1="{_num(top - 4)}" x2="{_num(x)}" '
                    f'y2="{_num(height - 2)}"/>')
        body.append(f'<text class="axis" x="{_num(x)}" y="12" text-anchor="middle">'
                    f"{escape(text)}</text>")
    for i, bar in enumerate(bars):
        y = top + i * row
        share = min(abs(bar.mark.value) / scale, 1.0) if scale else 0.0
        w = area * share
        if bar.mark.value and w < 1:
            w = 1.0  # a small but non-zero amount stays visible
        base = "bar neg" if bar.mark.value < 0 else "bar"
        body.append(f'<text class="label" x="{_num(label_width - 8)}" y="{_num(y + 13)}" '
                    f'text-anchor="end">{escape(bar.label)}</text>')
        body.append(_rect(label_width, y, w, bar_h, bar.mark, base))
        body.append(f'<text class="value" x="{_num(label_width + w + 6)}" y="{_num(y + 13)}">'
                    f"{escape(bar.text)}</text>")
    return _svg(WIDTH, height, label, body)


def _y_grid(ticks: Sequence[tuple[float, str]], scale: float, left: float, right: float, top: float,
            plot_h: float) -> list[str]:
    """A horizontal grid line and a y-axis label per (value, text) tick, 0 at the bottom."""
    body: list[str] = []
    for value, text in ticks:
        y = top + plot_h * (1 - value / scale)
        body.append(f'<line class="grid" x1="{_num(left)}" y1="{_num(y)}" x2="{_num(WIDTH - right)}" '
                    f'y2="{_num(y)}"/>')
        body.append(f'<text class="axis" x="{_num(left - 6)}" y="{_num(y + 4)}" '
                    f'text-anchor="end">{escape(text)}</text>')
    return body


def stacked_columns(columns: Sequence[Column], *, label: str, ticks: Sequence[Decimal]) -> str:
    """Vertical stacked columns over a y axis from 0 to the last tick."""
    height, left, right, top, bottom = 240.0, 96.0, 12.0, 22.0, 30.0
    plot_w, plot_h = WIDTH - left - right, height - top - bottom
    scale = float(ticks[-1]) if ticks and ticks[-1] > 0 else 1.0
    body = _y_grid([(float(t), tick_text(t)) for t in ticks], scale, left, right, top, plot_h)
    n = max(len(columns), 1)
    slot = plot_w / n
    bar_w = min(56.0, slot * 0.7)
    every = max(1, math.ceil(n * 72 / plot_w))  # x labels that fit side by side
    for i, col in enumerate(columns):
        cx = left + slot * (i + 0.5)
        y = top + plot_h
        for seg in col.segments:
            h = plot_h * max(seg.value, 0.0) / scale
            y -= h
            body.append(_rect(cx - bar_w / 2, y, bar_w, h, seg, "segment"))
        if col.text and slot >= 90:
            body.append(f'<text class="value" x="{_num(cx)}" y="{_num(y - 5)}" '
                        f'text-anchor="middle">{escape(col.text)}</text>')
        if (n - 1 - i) % every == 0:  # always label the latest column
            body.append(f'<text class="axis" x="{_num(cx)}" y="{_num(height - 10)}" '
                        f'text-anchor="middle">{escape(col.label)}</text>')
    return _svg(WIDTH, height, label, body)


def line_chart(lines: Sequence[Line], x_labels: Sequence[str], *, label: str,
               ticks: Sequence[tuple[float, str]]) -> str:
    """Lines over x positions; a series with one point shows just that point."""
    height, left, right, top, bottom = 240.0, 56.0, 16.0, 14.0, 30.0
    plot_w, plot_h = WIDTH - left - right, height - top - bottom
    scale = ticks[-1][0] if ticks and ticks[-1][0] > 0 else 1.0
    body = _y_grid(ticks, scale, left, right, top, plot_h)
    n = max(len(x_labels), 1)
    slot = plot_w / n
    every = max(1, math.ceil(n * 64 / plot_w))
    for i, text in enumerate(x_labels):
        if (n - 1 - i) % every == 0:
            body.append(f'<text class="axis" x="{_num(left + slot * (i + 0.5))}" '
                        f'y="{_num(height - 10)}" text-anchor="middle">{escape(text)}</text>')
    for line in lines:
        points = [(left + slot * (i + 0.5), top + plot_h * (1 - min(p.value, scale) / scale), p)
                  if p is not None else None for i, p in enumerate(line.points)]
        run: list[tuple[float, float, Mark]] = []
        for point in [*points, None]:  # a missing point breaks the line
            if point is not None:
                run.append(point)
                continue
            if len(run) > 1:
                path = " ".join(f"{_num(x)},{_num(y)}" for x, y, _ in run)
                body.append(f'<polyline class="line {escape(line.css)}" points="{path}"/>')
            run = []
        for x, y, p in (point for point in points if point is not None):
            css = f"point {line.css} {p.css}".strip()
            body.append(f'<circle class="{escape(css)}" cx="{_num(x)}" cy="{_num(y)}" r="4"'
                        f"{attrs(p.attrs)}>{_title(p.title)}</circle>")
    return _svg(WIDTH, height, label, body)


def split_bar(parts: Sequence[Mark], *, label: str, width: float = 260, height: float = 12) -> str:
    """One thin bar split into parts (e.g. current and overdue), for a headline card."""
    total = sum(max(p.value, 0.0) for p in parts) or 1.0
    x = 0.0
    body = []
    for part in parts:
        w = width * max(part.value, 0.0) / total
        body.append(_rect(x, 0, w, height, part, "part"))
        x += w
    return _svg(width, height, label, body, css="split")
