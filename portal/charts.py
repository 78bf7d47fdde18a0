"""Charts drawn on the server as inline SVG: no JavaScript, no CDN, readable in tests.

bar_chart(series, labels, title) -> SafeString     stacked hourly bars, one colour a series
"""

from dataclasses import dataclass

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

PALETTE = ("#2e7d32", "#c62828", "#1565c0", "#ef6c00", "#6a1b9a", "#00838f")
WIDTH, HEIGHT = 600, 160
LEFT, BOTTOM, TOP = 36, 22, 10


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


def bar_chart(series: list[Series], labels: list[str], title: str) -> SafeString:
    """Stacked bars, one per label (e.g. hour), each series a colour; a legend with totals."""
    slots = max(len(labels), 1)
    totals = [sum(s.values[i] for s in series) for i in range(len(labels))]
    top = _nice_max(max(totals, default=0))
    plot_w, plot_h = WIDTH - LEFT - 4, HEIGHT - BOTTOM - TOP
    bar_w = plot_w / slots
    rects = []
    for i in range(len(labels)):
        y = TOP + plot_h
        for index, s in enumerate(series):
            value = s.values[i]
            if not value:
                continue
            h = plot_h * value / top
            y -= h
            colour = s.colour or PALETTE[index % len(PALETTE)]
            rects.append(
                (
                    _n(LEFT + i * bar_w + 1),
                    _n(y),
                    _n(max(bar_w - 2, 1)),
                    _n(h),
                    colour,
                    f"{labels[i]} {s.name}: {value}",
                )
            )
    bars = format_html_join(
        "",
        '<rect class="bar" x="{}" y="{}" width="{}" height="{}" fill="{}"><title>{}</title></rect>',
        rects,
    )
    ticks = format_html_join(
        "",
        '<text x="{}" y="{}" font-size="9" text-anchor="middle" fill="#666">{}</text>',
        (
            (_n(LEFT + i * bar_w + bar_w / 2), HEIGHT - 6, label)
            for i, label in enumerate(labels)
            if i % 3 == 0
        ),
    )
    axis = format_html(
        '<line x1="{l}" y1="{b}" x2="{r}" y2="{b}" stroke="#999"/>'
        '<text x="{tx}" y="{t}" font-size="9" text-anchor="end" fill="#666">{top}</text>'
        '<text x="{tx}" y="{b}" font-size="9" text-anchor="end" fill="#666">0</text>',
        l=LEFT, r=WIDTH - 4, b=TOP + plot_h, t=TOP + 8, tx=LEFT - 4, top=top,
    )  # fmt: skip
    legend = format_html_join(
        "",
        '<span class="legend-item"><span class="swatch" style="background:{}"></span>{} '
        "<strong>{}</strong></span>",
        (
            (s.colour or PALETTE[i % len(PALETTE)], s.name, sum(s.values))
            for i, s in enumerate(series)
        ),
    )
    return format_html(
        '<figure class="chart"><figcaption>{}</figcaption>'
        '<svg class="chart-svg" viewBox="0 0 {} {}" role="img" aria-label="{}">{}{}{}</svg>'
        '<div class="legend">{}</div></figure>',
        title, WIDTH, HEIGHT, title, axis, bars, ticks, legend,
    )  # fmt: skip


def empty_chart(title: str) -> SafeString:
    return format_html('<figure class="chart"><figcaption>{}</figcaption>{}</figure>', title,
                       mark_safe('<p class="chart-empty">No activity.</p>'))  # fmt: skip
