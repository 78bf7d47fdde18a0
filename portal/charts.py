"""Charts drawn on the server as inline SVG: no JavaScript, no CDN, readable in tests.

bar_chart(series, labels, title, x_label=…, y_label=…) -> SafeString
    stacked bars, one per label (an hour, a day), one colour a series; labelled axes with
    gridlines; every bar carries its value as a hover title; a non-zero value is never thinner
    than MIN_BAR units, so one failure among hundreds of successes stays visible.

Colours are SVG presentation attributes (no style attributes: the console runs under a CSP).
"""

from dataclasses import dataclass

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

PALETTE = ("#2e7d32", "#c62828", "#1565c0", "#ef6c00", "#6a1b9a", "#00838f")
WIDTH, HEIGHT = 720, 230
LEFT, RIGHT, BOTTOM, TOP = 58, 8, 40, 12
MIN_BAR = 5.0
Y_TICKS = 4


@dataclass(frozen=True)
class Series:
    name: str
    values: list[int]
    colour: str = ""


def _n(value: float) -> str:
    return f"{value:.1f}"


def _nice_max(value: int) -> int:
    """A round axis maximum ≥ value (1, 2 or 5 times a power of ten)."""
    if value <= 0:
        return 1
    step = 1
    while True:
        for factor in (1, 2, 5):
            if factor * step >= value:
                return factor * step
        step *= 10


def _colour(series: list[Series], index: int) -> str:
    return series[index].colour or PALETTE[index % len(PALETTE)]


def _heights(values: list[int], top: int, plot_h: float) -> list[float]:
    """Bar heights of one slot: proportional, non-zero ones at least MIN_BAR (scaled down
    together if the minimums would overflow the plot)."""
    heights = [max(plot_h * v / top, MIN_BAR) if v else 0.0 for v in values]
    total = sum(heights)
    return [h * plot_h / total for h in heights] if total > plot_h else heights


def _bars(series: list[Series], labels: list[str], top: int) -> SafeString:
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - BOTTOM - TOP
    bar_w = plot_w / max(len(labels), 1)
    rects = []
    for i, label in enumerate(labels):
        y = TOP + plot_h
        for index, h in enumerate(_heights([s.values[i] for s in series], top, plot_h)):
            if not h:
                continue
            y -= h
            tip = f"{label} · {series[index].name}: {series[index].values[i]}"
            rects.append((_n(LEFT + i * bar_w + 1), _n(y), _n(max(bar_w - 2, 1)), _n(h),
                          _colour(series, index), tip))  # fmt: skip
    return format_html_join(
        "",
        '<rect class="bar" x="{}" y="{}" width="{}" height="{}" fill="{}" stroke="#fff" '
        'stroke-width="0.5"><title>{}</title></rect>',
        rects,
    )


def _y_axis(top: int, y_label: str) -> SafeString:
    plot_h = HEIGHT - BOTTOM - TOP
    steps = Y_TICKS if top >= Y_TICKS else top
    ticks = [(top * k // steps, TOP + plot_h - plot_h * k / steps) for k in range(steps + 1)]
    grid = format_html_join(
        "",
        '<line class="grid" x1="{}" y1="{}" x2="{}" y2="{}" stroke="#ddd"/>'
        '<text x="{}" y="{}" font-size="10" text-anchor="end" fill="#555">{}</text>',
        ((LEFT, _n(y), WIDTH - RIGHT, _n(y), LEFT - 4, _n(y + 3), value) for value, y in ticks),
    )
    middle = TOP + plot_h / 2
    label = format_html(
        '<text class="axis-label" x="12" y="{y}" font-size="10" fill="#333" text-anchor="middle" '
        'transform="rotate(-90 12 {y})">{}</text>',
        y_label, y=_n(middle),
    )  # fmt: skip
    return format_html("{}{}", grid, label)


def _x_axis(labels: list[str], x_label: str) -> SafeString:
    plot_w = WIDTH - LEFT - RIGHT
    bar_w = plot_w / max(len(labels), 1)
    every = max(1, len(labels) // 12)
    ticks = format_html_join(
        "",
        '<text x="{}" y="{}" font-size="10" text-anchor="middle" fill="#555">{}</text>',
        (
            (_n(LEFT + i * bar_w + bar_w / 2), HEIGHT - BOTTOM + 14, label)
            for i, label in enumerate(labels)
            if i % every == 0
        ),
    )
    base = HEIGHT - BOTTOM
    return format_html(
        '<line x1="{l}" y1="{b}" x2="{r}" y2="{b}" stroke="#999"/>{ticks}'
        '<text class="axis-label" x="{cx}" y="{ly}" font-size="10" fill="#333" '
        'text-anchor="middle">{label}</text>',
        l=LEFT, r=WIDTH - RIGHT, b=base, ticks=ticks, cx=_n(LEFT + plot_w / 2),
        ly=HEIGHT - 6, label=x_label,
    )  # fmt: skip


def _legend(series: list[Series]) -> SafeString:
    return format_html_join(
        "",
        '<span class="legend-item"><svg class="swatch" viewBox="0 0 10 10" aria-hidden="true">'
        '<rect width="10" height="10" rx="2" fill="{}"/></svg>{} <strong>{}</strong></span>',
        ((_colour(series, i), s.name, sum(s.values)) for i, s in enumerate(series)),
    )


def bar_chart(
    series: list[Series],
    labels: list[str],
    title: str,
    *,
    x_label: str = "hour",
    y_label: str = "count",
) -> SafeString:
    """Stacked bars, one per label, each series a colour (the first at the bottom)."""
    totals = [sum(s.values[i] for s in series) for i in range(len(labels))]
    top = _nice_max(max(totals, default=0))
    svg = format_html(
        '<svg class="chart-svg" viewBox="0 0 {} {}" role="img" aria-label="{}">{}{}{}</svg>',
        WIDTH, HEIGHT, title, _y_axis(top, y_label), _bars(series, labels, top),
        _x_axis(labels, x_label),
    )  # fmt: skip
    return format_html(
        '<figure class="chart"><figcaption>{}</figcaption>{}<div class="legend">{}</div></figure>',
        title, svg, _legend(series),
    )  # fmt: skip


def empty_chart(title: str) -> SafeString:
    return format_html('<figure class="chart"><figcaption>{}</figcaption>{}</figure>', title,
                       mark_safe('<p class="chart-empty">No activity.</p>'))  # fmt: skip
