"""Competition certificates (PDF, ReportLab): «Диплом I/II/III степени» for the winners and
«Сертификат участника» for every other participant. A4 landscape, the serif fonts the
protocol's PDF registers (Liberation Serif, else DejaVu Serif). All text is escaped for
ReportLab's paragraph markup, so a title like «<b>» is printed as typed."""

from __future__ import annotations

import io
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Paragraph

from server.domain.protocol.pdf_render import _fonts
from server.domain.protocol.russian import date_text
from server.domain.protocol.text import printable
from server.domain.year.competitions import CertificateData

ROMAN = {1: "I", 2: "II", 3: "III"}
ACCENT = colors.HexColor("#1f4e79")


def certificate_heading(data: CertificateData) -> tuple[str, str]:
    if data.degree is not None:
        return "ДИПЛОМ", f"{ROMAN[data.degree]} степени"
    return "СЕРТИФИКАТ", "участника"


def certificate_filename(data: CertificateData) -> str:
    kind = f"Диплом {ROMAN[data.degree]} степени" if data.degree else "Сертификат участника"
    return f"{kind} — {data.full_name} — № {data.number}.pdf"


def render_certificate(data: CertificateData) -> bytes:
    regular, bold = _fonts()
    width, height = landscape(A4)
    buf = io.BytesIO()
    title, subtitle = certificate_heading(data)
    canvas = Canvas(buf, pagesize=(width, height))
    canvas.setTitle(printable(f"{title} {subtitle} — {data.full_name}"))
    canvas.setAuthor(printable(data.association_name))

    canvas.setStrokeColor(ACCENT)
    canvas.setLineWidth(3)
    canvas.rect(12 * mm, 12 * mm, width - 24 * mm, height - 24 * mm)
    canvas.setLineWidth(0.8)
    canvas.rect(15 * mm, 15 * mm, width - 30 * mm, height - 30 * mm)

    def para(
        text: str, size: float, y: float, *, font: str = regular, color: colors.Color = colors.black
    ) -> float:
        """Centred, wrapped paragraph whose top is at ``y``; returns the y below it."""
        style = ParagraphStyle(
            "p", fontName=font, fontSize=size, leading=size * 1.25, alignment=TA_CENTER, textColor=color
        )
        p = Paragraph(escape(printable(text)), style)
        avail = width - 60 * mm
        _, h = p.wrap(avail, height)
        p.drawOn(canvas, 30 * mm, y - h)
        return y - h

    y = height - 26 * mm
    if data.founder_name:
        y = para(data.founder_name, 12, y) - 2 * mm
    y = para(data.association_name, 14, y, font=bold) - 10 * mm
    y = para(title, 40, y, font=bold, color=ACCENT) - 1 * mm
    y = para(subtitle, 22, y, font=bold, color=ACCENT) - 9 * mm
    if data.degree is not None:
        y = para("награждается", 16, y) - 3 * mm
    else:
        y = para("настоящим подтверждается, что", 16, y) - 3 * mm
    y = para(data.full_name, 26, y, font=bold) - 2 * mm
    if data.school:
        y = para(data.school, 13, y) - 4 * mm
    if data.degree is not None:
        text = f"за {ROMAN[data.degree]} место в конкурсе «{data.competition_title}»"
    else:
        text = f"принял(а) участие в конкурсе «{data.competition_title}» (место — {data.place})"
    para(text, 16, y)

    canvas.setFont(regular, 13)
    canvas.drawString(30 * mm, 36 * mm, "Сетевой методист")
    canvas.line(80 * mm, 35 * mm, 130 * mm, 35 * mm)
    canvas.drawString(135 * mm, 36 * mm, data.methodist_name)
    canvas.drawRightString(width - 30 * mm, 36 * mm, date_text(data.issued))
    canvas.setFont(regular, 11)
    canvas.drawRightString(width - 30 * mm, 26 * mm, f"№ {data.number}")
    canvas.showPage()
    canvas.save()
    return buf.getvalue()
