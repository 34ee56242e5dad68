"""Small pictures drawn on the server: a line chart of readings (SVG) and the enrolment QR."""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from xml.sax.saxutils import escape

import segno
from markupsafe import Markup

WIDTH, HEIGHT, PAD = 480, 160, 28


def readings_chart(points: Sequence[tuple[datetime, Decimal]], label: str) -> Markup:
    """A line over time, with its first and last value written out; empty for no points."""
    if not points:
        return Markup("")
    ordered = sorted(points)
    times = [p[0].timestamp() for p in ordered]
    values = [float(p[1]) for p in ordered]
    t0, t1 = min(times), max(times)
    v0, v1 = min(values), max(values)
    span_t = (t1 - t0) or 1.0
    span_v = (v1 - v0) or 1.0

    def x(t: float) -> float:
        return PAD + (t - t0) / span_t * (WIDTH - 2 * PAD)

    def y(v: float) -> float:
        return HEIGHT - PAD - (v - v0) / span_v * (HEIGHT - 2 * PAD)

    path = " ".join(f"{x(t):.1f},{y(v):.1f}" for t, v in zip(times, values, strict=True))
    dots = "".join(
        f'<circle cx="{x(t):.1f}" cy="{y(v):.1f}" r="3"/>'
        for t, v in zip(times, values, strict=True)
    )
    title = escape(label)
    bottom, right = HEIGHT - PAD, WIDTH - PAD
    return Markup(  # noqa: S704 - numbers we computed, and the label escaped
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{title}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" class="chart">'
        f"<title>{title}</title>"
        f'<line x1="{PAD}" y1="{bottom}" x2="{right}" y2="{bottom}" class="axis"/>'
        f'<line x1="{PAD}" y1="{PAD}" x2="{PAD}" y2="{HEIGHT - PAD}" class="axis"/>'
        f'<polyline points="{path}" class="line"/>{dots}'
        f'<text x="2" y="{PAD - 8}">{v1:g}</text><text x="2" y="{HEIGHT - 8}">{v0:g}</text>'
        "</svg>"
    )


def qr_svg(payload: str, label: str) -> Markup:
    """The QR code of an enrolment link, inline SVG with an accessible name."""
    out = io.BytesIO()
    segno.make(payload, error="m").save(
        out, kind="svg", scale=5, border=2, xmldecl=False, svgns=True, title=label
    )
    svg = (
        out.getvalue()
        .decode("utf-8")
        .replace("<svg ", f'<svg role="img" aria-label="{escape(label)}" ', 1)
    )
    return Markup(svg)  # noqa: S704 - segno's own SVG of a server-made code, label escaped
