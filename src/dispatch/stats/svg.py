"""Charts as inline SVG, made on the server: no JavaScript, no fonts or scripts fetched.

`bar_chart` draws grouped bars from a zero line (negative values go below it) and,
optionally, a line with points. Every bar and point carries `data-series`, `data-label`
and `data-value`, and a `<title>` ("2026-05-04 · subscribed: 3") that screen readers and
tooltips read; the chart has a `<title>` and `<desc>` (`role="img"`). Colours are
presentation attributes, so a strict Content-Security-Policy does not hide them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

WIDTH, HEIGHT = 720, 260
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 16, 48
MAX_X_LABELS = 10


@dataclass(frozen=True)
class Series:
    key: str  # data-series
    label: str  # legend and titles
    values: Sequence[int]
    colour: str


@dataclass(frozen=True)
class Chart:
    id: str
    title: str
    description: str
    labels: Sequence[str]  # one per group (x axis)
    bars: Sequence[Series]
    line: Series | None = None


class _Scale:
    def __init__(self, chart: Chart) -> None:
        values = [v for s in (*chart.bars, *([chart.line] if chart.line else [])) for v in s.values]
        self.low, self.high = min([0, *values]), max([1, *values])
        self.plot = HEIGHT - TOP - BOTTOM

    def y(self, value: float) -> float:
        return TOP + (self.high - value) / (self.high - self.low) * self.plot


def bar_chart(chart: Chart) -> Markup:
    scale = _Scale(chart)
    groups = max(len(chart.labels), 1)
    slot = (WIDTH - LEFT - RIGHT) / groups
    bar = max(slot * 0.8 / max(len(chart.bars), 1), 1.0)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'class="chart" role="img" data-chart="{escape(chart.id)}" '
        f'aria-labelledby="{escape(chart.id)}-title {escape(chart.id)}-desc">',
        f'<title id="{escape(chart.id)}-title">{escape(chart.title)}</title>',
        f'<desc id="{escape(chart.id)}-desc">{escape(chart.description)}</desc>',
        *_axes(chart, scale, slot),
    ]
    for n, series in enumerate(chart.bars):
        parts.append(f'<g data-series="{escape(series.key)}" fill="{escape(series.colour)}">')
        for i, value in enumerate(series.values):
            x = LEFT + i * slot + slot * 0.1 + n * bar
            top, bottom = sorted((scale.y(value), scale.y(0)))
            parts.append(
                f'<rect x="{x:.1f}" y="{top:.1f}" width="{bar:.1f}" '
                f'height="{max(bottom - top, 0):.1f}" {_data(chart, series, i, value)}>'
                f"<title>{escape(_title(chart, series, i, value))}</title></rect>"
            )
        parts.append("</g>")
    if chart.line is not None:
        parts.extend(_line(chart, chart.line, scale, slot))
    parts.extend(_legend(chart))
    parts.append("</svg>")
    return Markup("".join(parts))


def _data(chart: Chart, series: Series, i: int, value: int) -> str:
    return (
        f'data-series="{escape(series.key)}" data-label="{escape(chart.labels[i])}" '
        f'data-value="{value}"'
    )


def _title(chart: Chart, series: Series, i: int, value: int) -> str:
    return f"{chart.labels[i]} · {series.label}: {value:,}"


def _axes(chart: Chart, scale: _Scale, slot: float) -> list[str]:
    zero = scale.y(0)
    parts = [
        f'<g class="axis" stroke="#8a8f98" stroke-width="1">'
        f'<line x1="{LEFT}" y1="{zero:.1f}" x2="{WIDTH - RIGHT}" y2="{zero:.1f}"/></g>',
        '<g class="ticks" fill="#4b5563" font-size="11" font-family="sans-serif">',
    ]
    for value in sorted({scale.low, 0, scale.high}):
        parts.append(
            f'<text x="{LEFT - 6}" y="{scale.y(value) + 4:.1f}" text-anchor="end">{value:,}</text>'
        )
    every = max(1, -(-len(chart.labels) // MAX_X_LABELS))
    for i, label in enumerate(chart.labels):
        if i % every == 0:
            x = LEFT + i * slot + slot / 2
            parts.append(
                f'<text x="{x:.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle">'
                f"{escape(_short(label))}</text>"
            )
    parts.append("</g>")
    return parts


def _line(chart: Chart, series: Series, scale: _Scale, slot: float) -> list[str]:
    points = [(LEFT + i * slot + slot / 2, scale.y(value)) for i, value in enumerate(series.values)]
    path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
    colour = escape(series.colour)
    parts = [
        f'<g data-series="{escape(series.key)}" fill="{colour}" stroke="{colour}">',
        f'<polyline points="{path}" fill="none" stroke-width="2"/>',
    ]
    for i, ((x, y), value) in enumerate(zip(points, series.values, strict=True)):
        parts.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" {_data(chart, series, i, value)}>'
            f"<title>{escape(_title(chart, series, i, value))}</title></circle>"
        )
    parts.append("</g>")
    return parts


def _legend(chart: Chart) -> list[str]:
    items = [*chart.bars, *([chart.line] if chart.line else [])]
    parts = ['<g class="legend" font-size="12" font-family="sans-serif" fill="#111827">']
    x = LEFT
    for series in items:
        parts.append(
            f'<rect x="{x}" y="{HEIGHT - 18}" width="10" height="10" '
            f'fill="{escape(series.colour)}"/>'
            f'<text x="{x + 14}" y="{HEIGHT - 9}">{escape(series.label)}</text>'
        )
        x += 24 + 7 * len(series.label)
    parts.append("</g>")
    return parts


def _short(label: str) -> str:
    return label if len(label) <= 14 else label[:13] + "…"
