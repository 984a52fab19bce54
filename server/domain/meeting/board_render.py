"""A board page drawn from its element JSON: SVG, PNG (Pillow) and PDF (reportlab).

Good enough to read, not a copy of Excalidraw's hand-drawn look: every element becomes a few
primitives in the page's coordinates — a polyline or polygon (rectangles, diamonds, ellipses,
lines, arrows with their heads, free-hand strokes; rotation applied to the points), a text or
a picture — and each format draws the same primitives. Pictures are the board's stored files
(data URLs); an SVG picture is drawn in the SVG export and shown as a framed box in PNG/PDF
(neither Pillow nor reportlab reads SVG). Every text is escaped; colours are checked.
"""

from __future__ import annotations

import base64
import functools
import io
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from PIL import Image, ImageDraw, ImageFont
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

from server.domain.meeting.board import MAX_IMAGE_PIXELS, Page, image_bytes, raster_pixels
from server.errors import AppError

INK = "#1e1e1e"
PAD = 24.0
MAX_PNG_SIDE = 2400
_COLOR = re.compile(r"#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})\Z")
_SANS = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
)
PDF_FONT = "BoardSans"


@dataclass(frozen=True, slots=True)
class Poly:
    points: tuple[tuple[float, float], ...]
    closed: bool
    stroke: str | None
    fill: str | None
    width: float
    opacity: float
    dashed: bool = False


@dataclass(frozen=True, slots=True)
class Text:
    x: float
    y: float
    lines: tuple[str, ...]
    size: float
    color: str
    align: str  # left / center / right; x is the box's left edge
    width: float
    opacity: float


@dataclass(frozen=True, slots=True)
class Picture:
    x: float
    y: float
    width: float
    height: float
    file_id: str
    opacity: float


Primitive = Poly | Text | Picture


def _num(value: Any, default: float = 0.0) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(max(-1e6, min(1e6, value)))
    return default


def _color(value: Any, default: str | None) -> str | None:
    """``#rrggbb`` (Excalidraw writes hex colours; a transparent alpha reads as none)."""
    if not isinstance(value, str) or not _COLOR.match(value):
        return default
    digits = value[1:]
    if len(digits) == 3:
        digits = "".join(c * 2 for c in digits)
    if len(digits) == 8 and digits[6:] == "00":
        return default
    return "#" + digits[:6].lower()


def _rotate(
    points: list[tuple[float, float]], angle: float, cx: float, cy: float
) -> tuple[tuple[float, float], ...]:
    if not angle:
        return tuple(points)
    c, s = math.cos(angle), math.sin(angle)
    return tuple((cx + (x - cx) * c - (y - cy) * s, cy + (x - cx) * s + (y - cy) * c) for x, y in points)


def _arrowhead(tip: tuple[float, float], tail: tuple[float, float], size: float) -> list[tuple[float, float]]:
    angle = math.atan2(tip[1] - tail[1], tip[0] - tail[0])
    return [
        (tip[0] - size * math.cos(angle - 0.45), tip[1] - size * math.sin(angle - 0.45)),
        tip,
        (tip[0] - size * math.cos(angle + 0.45), tip[1] - size * math.sin(angle + 0.45)),
    ]


def primitives(element: dict[str, Any]) -> list[Primitive]:
    kind = element.get("type")
    x, y = _num(element.get("x")), _num(element.get("y"))
    w, h = abs(_num(element.get("width"))), abs(_num(element.get("height")))
    angle = _num(element.get("angle"))
    cx, cy = x + w / 2, y + h / 2
    stroke = _color(element.get("strokeColor"), INK)
    fill = _color(element.get("backgroundColor"), None)
    width = max(0.5, min(40.0, _num(element.get("strokeWidth"), 2.0)))
    opacity = max(0.0, min(1.0, _num(element.get("opacity"), 100.0) / 100))
    dashed = element.get("strokeStyle") in ("dashed", "dotted")
    if kind in ("rectangle", "frame", "magicframe", "embeddable", "iframe"):
        corners = [(x, y), (x + w, y), (x + w, y + h), (x, y + h)]
        return [Poly(_rotate(corners, angle, cx, cy), True, stroke, fill, width, opacity, dashed)]
    if kind == "diamond":
        corners = [(cx, y), (x + w, cy), (cx, y + h), (x, cy)]
        return [Poly(_rotate(corners, angle, cx, cy), True, stroke, fill, width, opacity, dashed)]
    if kind == "ellipse":
        ring = [
            (cx + w / 2 * math.cos(t), cy + h / 2 * math.sin(t))
            for t in (i * math.pi / 24 for i in range(48))
        ]
        return [Poly(_rotate(ring, angle, cx, cy), True, stroke, fill, width, opacity, dashed)]
    if kind in ("line", "arrow", "freedraw"):
        raw: list[Any] = element["points"] if isinstance(element.get("points"), list) else []
        pts = [(x + _num(p[0]), y + _num(p[1])) for p in raw if isinstance(p, list | tuple) and len(p) >= 2]
        if not pts:
            return []
        if len(pts) == 1:
            pts.append((pts[0][0] + 0.5, pts[0][1] + 0.5))  # a dot
        pts_r = _rotate(pts, angle, cx, cy)
        closed = kind == "line" and len(pts) > 2 and pts[0] == pts[-1]
        out: list[Primitive] = [
            Poly(
                pts_r,
                closed,
                stroke,
                fill if closed else None,
                width * (1.4 if kind == "freedraw" else 1),
                opacity,
                dashed,
            )
        ]
        if kind == "arrow":
            size = 10 + width * 3
            if element.get("endArrowhead"):
                out.append(
                    Poly(tuple(_arrowhead(pts_r[-1], pts_r[-2], size)), False, stroke, None, width, opacity)
                )
            if element.get("startArrowhead"):
                out.append(
                    Poly(tuple(_arrowhead(pts_r[0], pts_r[1], size)), False, stroke, None, width, opacity)
                )
        return out
    if kind == "text" and isinstance(element.get("text"), str):
        size = max(4.0, min(400.0, _num(element.get("fontSize"), 20.0)))
        align = (
            element.get("textAlign") if element.get("textAlign") in ("left", "center", "right") else "left"
        )
        lines = tuple(element["text"].split("\n"))
        return [Text(x, y, lines, size, stroke or INK, str(align), w, opacity)]
    if kind == "image" and isinstance(element.get("fileId"), str):
        return [Picture(x, y, w, h, element["fileId"], opacity)]
    return []


@dataclass(frozen=True, slots=True)
class Drawing:
    items: tuple[Primitive, ...]
    left: float
    top: float
    width: float
    height: float


def _extent(p: Primitive) -> tuple[float, float, float, float]:
    if isinstance(p, Poly):
        xs, ys = [q[0] for q in p.points], [q[1] for q in p.points]
        return min(xs) - p.width, min(ys) - p.width, max(xs) + p.width, max(ys) + p.width
    if isinstance(p, Text):
        longest = max((len(line) for line in p.lines), default=0)
        return p.x, p.y, p.x + max(p.width, longest * p.size * 0.6), p.y + len(p.lines) * p.size * 1.25
    return p.x, p.y, p.x + p.width, p.y + p.height


def drawing(page: Page) -> Drawing:
    items: list[Primitive] = []
    for element in page.elements:
        items += primitives(element)
    if not items:
        return Drawing((), 0.0, 0.0, 400.0, 300.0)
    boxes = [_extent(p) for p in items]
    left, top = min(b[0] for b in boxes) - PAD, min(b[1] for b in boxes) - PAD
    right, bottom = max(b[2] for b in boxes) + PAD, max(b[3] for b in boxes) + PAD
    return Drawing(tuple(items), left, top, max(right - left, 1.0), max(bottom - top, 1.0))


def _text_x(t: Text, line_width: float) -> float:
    if t.align == "center":
        return t.x + (t.width - line_width) / 2
    if t.align == "right":
        return t.x + t.width - line_width
    return t.x


def _picture(files: dict[str, str], file_id: str) -> tuple[str, bytes] | None:
    try:
        return image_bytes(files.get(file_id))
    except AppError:
        return None


def _raster(pic: tuple[str, bytes] | None) -> Image.Image | None:
    """The picture decoded (PNG/JPEG/GIF/WebP within the board's pixel limit), else None."""
    if pic is None or pic[0] == "image/svg+xml" or not 0 < raster_pixels(pic[1]) <= MAX_IMAGE_PIXELS:
        return None
    try:
        return Image.open(io.BytesIO(pic[1])).convert("RGBA")
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return None


# --- SVG --------------------------------------------------------------------------------------
def page_svg(page: Page, files: dict[str, str]) -> str:
    d = drawing(page)
    out = [
        '<svg xmlns="http://www.w3.org/2000/svg" '
        f'viewBox="{d.left:.1f} {d.top:.1f} {d.width:.1f} {d.height:.1f}" '
        f'width="{d.width:.0f}" height="{d.height:.0f}" font-family="DejaVu Sans, Arial, sans-serif">',
        f"<title>{escape(page.title)}</title>",
        f'<rect x="{d.left:.1f}" y="{d.top:.1f}" width="{d.width:.1f}" height="{d.height:.1f}" fill="#ffffff"/>',
    ]
    for p in d.items:
        if isinstance(p, Poly):
            pts = " ".join(f"{x:.1f},{y:.1f}" for x, y in p.points)
            tag = "polygon" if p.closed else "polyline"
            dash = f' stroke-dasharray="{p.width * 4:.1f} {p.width * 3:.1f}"' if p.dashed else ""
            out.append(
                f'<{tag} points="{pts}" fill="{p.fill or "none"}" stroke="{p.stroke or "none"}" '
                f'stroke-width="{p.width:.1f}" stroke-linecap="round" stroke-linejoin="round" '
                f'opacity="{p.opacity:.2f}"{dash}/>'
            )
        elif isinstance(p, Text):
            anchor = {"left": "start", "center": "middle", "right": "end"}[p.align]
            ax = {"left": p.x, "center": p.x + p.width / 2, "right": p.x + p.width}[p.align]
            spans = "".join(
                f'<tspan x="{ax:.1f}" y="{p.y + p.size * (1.25 * i + 1):.1f}">{escape(line)}</tspan>'
                for i, line in enumerate(p.lines)
            )
            out.append(
                f'<text font-size="{p.size:.1f}" fill="{p.color}" text-anchor="{anchor}" '
                f'opacity="{p.opacity:.2f}" xml:space="preserve">{spans}</text>'
            )
        else:
            pic = _picture(files, p.file_id)
            if pic is None:
                out.append(
                    f'<rect x="{p.x:.1f}" y="{p.y:.1f}" width="{p.width:.1f}" height="{p.height:.1f}" '
                    'fill="#f1f3f5" stroke="#868e96"/>'
                )
                continue
            href = f"data:{pic[0]};base64,{base64.b64encode(pic[1]).decode('ascii')}"
            out.append(
                f'<image x="{p.x:.1f}" y="{p.y:.1f}" width="{p.width:.1f}" height="{p.height:.1f}" '
                f'preserveAspectRatio="none" opacity="{p.opacity:.2f}" href={quoteattr(href)}/>'
            )
    out.append("</svg>")
    return "\n".join(out)


# --- PNG --------------------------------------------------------------------------------------
@functools.cache
def _font_path() -> str | None:
    return next((f for f in _SANS if Path(f).is_file()), None)


def _pil_font(size: float) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    path = _font_path()
    return ImageFont.truetype(path, max(4, int(size))) if path else ImageFont.load_default()


def _rgba(color: str, opacity: float) -> tuple[int, int, int, int]:
    return int(color[1:3], 16), int(color[3:5], 16), int(color[5:7], 16), int(255 * opacity)


def page_png(page: Page, files: dict[str, str]) -> bytes:
    d = drawing(page)
    scale = min(2.0, MAX_PNG_SIDE / max(d.width, d.height))
    size = (max(1, round(d.width * scale)), max(1, round(d.height * scale)))
    image = Image.new("RGBA", size, (255, 255, 255, 255))
    layer = Image.new("RGBA", size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)

    def at(x: float, y: float) -> tuple[float, float]:
        return (x - d.left) * scale, (y - d.top) * scale

    for p in d.items:
        if isinstance(p, Poly):
            pts = [at(x, y) for x, y in p.points]
            width = max(1, round(p.width * scale))
            if p.closed and p.fill:
                draw.polygon(pts, fill=_rgba(p.fill, p.opacity))
            if p.stroke:
                path = [*pts, pts[0]] if p.closed else pts
                draw.line(path, fill=_rgba(p.stroke, p.opacity), width=width, joint="curve")
        elif isinstance(p, Text):
            font = _pil_font(p.size * scale)
            for i, row in enumerate(p.lines):
                line_width = draw.textlength(row, font=font) / scale
                draw.text(
                    at(_text_x(p, line_width), p.y + p.size * 1.25 * i),
                    row,
                    font=font,
                    fill=_rgba(p.color, p.opacity),
                )
        else:
            box = (*at(p.x, p.y), *at(p.x + p.width, p.y + p.height))
            pic = _picture(files, p.file_id)
            raster = _raster(pic)
            if raster is None:
                draw.rectangle(box, fill=(241, 243, 245, 255), outline=(134, 142, 150, 255))
                continue
            target = (max(1, round(box[2] - box[0])), max(1, round(box[3] - box[1])))
            layer.alpha_composite(raster.resize(target), (round(box[0]), round(box[1])))
    image = Image.alpha_composite(image, layer)
    out = io.BytesIO()
    image.convert("RGB").save(out, format="PNG")
    return out.getvalue()


# --- PDF --------------------------------------------------------------------------------------
@functools.cache
def _pdf_font() -> str:
    path = _font_path()
    if path is None:
        return "Helvetica"
    pdfmetrics.registerFont(TTFont(PDF_FONT, path))
    return PDF_FONT


def pages_pdf(pages: list[Page], files: dict[str, str], title: str) -> bytes:
    """Every page on a PDF page of its own size (the drawing's, in points)."""
    out = io.BytesIO()
    canvas = Canvas(out)
    canvas.setTitle(title)
    font = _pdf_font()
    for page in pages:
        d = drawing(page)
        canvas.setPageSize((d.width, d.height))

        def at(x: float, y: float, d: Drawing = d) -> tuple[float, float]:
            return x - d.left, d.height - (y - d.top)

        for p in d.items:
            if isinstance(p, Poly):
                path = canvas.beginPath()
                first, *rest = [at(x, y) for x, y in p.points]
                path.moveTo(*first)
                for q in rest:
                    path.lineTo(*q)
                if p.closed:
                    path.close()
                canvas.setLineWidth(p.width)
                canvas.setLineCap(1)
                canvas.setLineJoin(1)
                canvas.setDash([p.width * 4, p.width * 3] if p.dashed else [])
                if p.stroke:
                    canvas.setStrokeColor(p.stroke, alpha=p.opacity)
                if p.fill:
                    canvas.setFillColor(p.fill, alpha=p.opacity)
                canvas.drawPath(path, stroke=1 if p.stroke else 0, fill=1 if (p.closed and p.fill) else 0)
            elif isinstance(p, Text):
                canvas.setFont(font, p.size)
                canvas.setFillColor(p.color, alpha=p.opacity)
                for i, line in enumerate(p.lines):
                    line_width = pdfmetrics.stringWidth(line, font, p.size)
                    canvas.drawString(*at(_text_x(p, line_width), p.y + p.size * (1.25 * i + 1)), line)
            else:
                raster = _raster(_picture(files, p.file_id))
                x0, y0 = at(p.x, p.y + p.height)
                if raster is None:
                    canvas.setStrokeColor("#868e96")
                    canvas.setFillColor("#f1f3f5")
                    canvas.rect(x0, y0, p.width, p.height, stroke=1, fill=1)
                    continue
                canvas.drawImage(ImageReader(raster), x0, y0, p.width, p.height, mask="auto")
        canvas.showPage()
    canvas.save()
    return out.getvalue()
