"""Small charts drawn on the server as SVG: no script, no CDN, readable without a network.

Only presentation attributes are used (no ``style``), so the console's content security policy holds. The numbers
are abbreviated as the page's reader writes them (``lang`` of the template's context): 21.7万 / 217k."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Any

from jinja2 import pass_context
from jinja2.runtime import Context
from markupsafe import Markup

PALETTE = ("#2b6cb0", "#c05621", "#2f855a", "#6b46c1", "#b83280", "#2c7a7b", "#975a16", "#4a5568")


def _fmt(v: float, language: str = "en") -> str:
    """A chart's value, short: 1.2M / 217k in English; in Chinese by 万 and 亿 (21.7万, 1.2亿), never k or M."""
    if language == "zh":
        for size, word in ((100_000_000, "亿"), (10_000, "万")):
            if abs(v) >= size:
                return f"{v / size:.1f}".removesuffix(".0") + word
        return f"{v:g}" if v == int(v) else f"{v:.1f}"
    if abs(v) >= 1_000_000:
        return f"{v / 1_000_000:.1f}M"
    if abs(v) >= 10_000:
        return f"{v / 1000:.0f}k"
    return f"{v:g}" if v == int(v) else f"{v:.1f}"


def _open(width: int, height: int, title: str) -> str:
    """The ``<svg>`` start tag: it scales to its box by its ``viewBox`` (the stylesheet caps its width), and is named
    for a screen reader by ``title`` (its ``aria-label``: each point's ``<title>`` names that point)."""
    name = f' aria-label="{escape(title)}"' if title else ""
    head = (f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
            f'preserveAspectRatio="xMidYMid meet" role="img"{name}>')
    return head


def _language(context: Context) -> str:
    lang = context.get("lang")
    return lang if lang in ("zh", "en") else "en"


@pass_context
def bar_chart(context: Context, points: Sequence[tuple[str, float]], **kw: Any) -> Markup:
    """``bar_svg`` for a template: in the page's language (its ``lang``)."""
    return bar_svg(points, **({"language": _language(context)} | kw))


@pass_context
def line_chart(context: Context, points: Sequence[tuple[str, float]], **kw: Any) -> Markup:
    """``line_svg`` for a template: in the page's language (its ``lang``)."""
    return line_svg(points, **({"language": _language(context)} | kw))


def bar_svg(points: Sequence[tuple[str, float]], *, width: int = 460, height: int = 220, color: str = PALETTE[0],
            title: str = "", language: str = "en") -> Markup:
    """Vertical bars with their values and labels; negative values hang below the axis."""
    if not points:
        return Markup("")
    pad_l, pad_r, pad_t, pad_b = 48, 8, 18, 76  # room below for labels slanted at 30°
    hi = max(0.0, *(v for _, v in points))
    lo = min(0.0, *(v for _, v in points))
    span = (hi - lo) or 1.0
    plot_h = height - pad_t - pad_b
    step = (width - pad_l - pad_r) / len(points)
    bar_w = max(4.0, step * 0.7)
    zero_y = pad_t + plot_h * hi / span
    out = [_open(width, height, title)]
    out.append(f'<line x1="{pad_l}" y1="{zero_y:.1f}" x2="{width - pad_r}" y2="{zero_y:.1f}" stroke="#718096" stroke-width="1"/>')
    for i, (label, v) in enumerate(points):
        x = pad_l + i * step + (step - bar_w) / 2
        h = plot_h * abs(v) / span
        y = zero_y - h if v >= 0 else zero_y
        out.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{max(h, 0.5):.1f}" fill="{color}"><title>{escape(label)}: {_fmt(v, language)}</title></rect>')
        out.append(f'<text x="{x + bar_w / 2:.1f}" y="{(y - 4) if v >= 0 else (y + h + 12):.1f}" font-size="10" text-anchor="middle" fill="#2d3748">{_fmt(v, language)}</text>')
        short = label if len(label) <= 18 else label[:17] + "…"
        ly = height - pad_b + 14
        out.append(
            f'<text x="{x + bar_w / 2:.1f}" y="{ly}" font-size="10" text-anchor="end" fill="#4a5568" '
            f'transform="rotate(-30 {x + bar_w / 2:.1f} {ly})">{escape(short)}</text>'
        )
    out.append("</svg>")
    return Markup("".join(out))


def line_svg(points: Sequence[tuple[str, float]], *, width: int = 460, height: int = 220, color: str = PALETTE[1],
             title: str = "", language: str = "en") -> Markup:
    """A line over ordered labels (e.g. months), with a dot and value at each point."""
    if not points:
        return Markup("")
    if len(points) == 1:
        return bar_svg(points, width=width, height=height, color=color, title=title, language=language)
    pad_l, pad_r, pad_t, pad_b = 28, 28, 18, 40
    vals = [v for _, v in points]
    hi, lo = max(0.0, *vals), min(0.0, *vals)
    span = (hi - lo) or 1.0
    plot_w, plot_h = width - pad_l - pad_r, height - pad_t - pad_b
    xy = [(pad_l + plot_w * i / (len(points) - 1), pad_t + plot_h * (hi - v) / span) for i, v in enumerate(vals)]
    out = [_open(width, height, title)]
    zero_y = pad_t + plot_h * hi / span
    out.append(f'<line x1="{pad_l}" y1="{zero_y:.1f}" x2="{width - pad_r}" y2="{zero_y:.1f}" stroke="#718096" stroke-width="1"/>')
    out.append(f'<polyline fill="none" stroke="{color}" stroke-width="2" points="{" ".join(f"{x:.1f},{y:.1f}" for x, y in xy)}"/>')
    for (label, v), (x, y) in zip(points, xy, strict=True):
        out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{color}"><title>{escape(label)}: {_fmt(v, language)}</title></circle>')
        out.append(f'<text x="{x:.1f}" y="{(y - 6) if v >= 0 else (y + 14):.1f}" font-size="10" text-anchor="middle" fill="#2d3748">{_fmt(v, language)}</text>')
        out.append(f'<text x="{x:.1f}" y="{height - 6}" font-size="10" text-anchor="middle" fill="#4a5568">{escape(label)}</text>')
    out.append("</svg>")
    return Markup("".join(out))
