"""Statements and invoices as PDF, drawn with ReportLab.

ReportLab is pure Python and its standard Helvetica needs no font files (its
metrics are built in; readers bring the face), so nothing is downloaded or
installed beside the package. Helvetica's standard encoding has no glyphs
outside Latin-1; text is reduced to it, which covers the demo's names and
Swiss addresses.
"""

import io
from datetime import date

from django.utils.formats import date_format
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfgen import canvas

from money.amounts import format_money
from payments.models import PlatformFeeInvoice
from payments.services.statements import Statement

LEFT, RIGHT = 20 * mm, A4[0] - 20 * mm
LINE = 6 * mm


def _latin1(text: str) -> str:
    return text.encode("latin-1", "replace").decode("latin-1")


class _Page:
    def __init__(self, title: str):
        self.buffer = io.BytesIO()
        self.pdf = canvas.Canvas(self.buffer, pagesize=A4)
        self.pdf.setTitle(_latin1(title))
        self.y = A4[1] - 20 * mm

    def text(self, text: str, *, size: int = 10, bold: bool = False) -> None:
        self._room()
        self.pdf.setFont("Helvetica-Bold" if bold else "Helvetica", size)
        self.pdf.drawString(LEFT, self.y, _latin1(text))
        self.y -= LINE + (size - 10)

    def row(self, label: str, amount: str, *, bold: bool = False) -> None:
        self._room()
        self.pdf.setFont("Helvetica-Bold" if bold else "Helvetica", 10)
        self.pdf.drawString(LEFT, self.y, _latin1(label))
        self.pdf.drawRightString(RIGHT, self.y, _latin1(amount))
        self.y -= LINE

    def columns(self, cells: list[str], *, bold: bool = False) -> None:
        """A table row: the first cell left, the others right-aligned."""
        self._room()
        self.pdf.setFont("Helvetica-Bold" if bold else "Helvetica", 9)
        self.pdf.drawString(LEFT, self.y, _latin1(cells[0]))
        width = (RIGHT - LEFT - 70 * mm) / max(len(cells) - 1, 1)
        for index, cell in enumerate(cells[1:], start=1):
            self.pdf.drawRightString(
                LEFT + 70 * mm + index * width, self.y, _latin1(cell)
            )
        self.y -= LINE

    def gap(self) -> None:
        self.y -= LINE / 2

    def _room(self) -> None:
        if self.y < 20 * mm:
            self.pdf.showPage()
            self.y = A4[1] - 20 * mm

    def bytes(self) -> bytes:
        self.pdf.showPage()
        self.pdf.save()
        return self.buffer.getvalue()


def statement_pdf(statement: Statement, *, platform_name: str) -> bytes:
    """The statement: summary figures, then one line per session."""
    money = statement.currency
    month = date_format(statement.month, "F Y")
    page = _Page(f"Statement {month}")
    page.text(f"{platform_name}: statement {month}", size=14, bold=True)
    page.text(f"{statement.coach.name or statement.coach.email}, {money}")
    page.gap()
    page.row("Sessions", str(statement.sessions))
    for _key, label, amount in statement.summary():
        page.row(
            label, format_money(amount, money), bold=_key in ("opening", "closing")
        )
    if statement.lines:
        page.gap()
        page.text("Sessions", bold=True)
        page.columns(["Session", "Gross", "VAT", "Fee", "Yours"], bold=True)
        for line in statement.lines:
            page.columns(
                [
                    f"{line.when:%Y-%m-%d %H:%M} {line.offering}"[:45],
                    format_money(line.gross, money),
                    format_money(line.vat, money),
                    format_money(line.platform_fee, money),
                    format_money(line.coach, money),
                ]
            )
    return page.bytes()


def invoice_pdf(invoice: PlatformFeeInvoice) -> bytes:
    """The platform-fee invoice, VAT shown separately."""
    money = invoice.currency
    page = _Page(f"Invoice {invoice.number}")
    page.text(invoice.seller_name, size=14, bold=True)
    for line in invoice.seller_address.splitlines():
        page.text(line)
    page.text(f"VAT number: {invoice.seller_vat_number}")
    page.gap()
    page.text(f"Invoice {invoice.number}", size=12, bold=True)
    page.text(f"Issued: {invoice.issued_at:%Y-%m-%d}")
    page.text(f"To: {invoice.buyer_name}")
    page.text(f"Period: {date_format(invoice.month, 'F Y')}")
    page.gap()
    rate = f"{invoice.vat_rate_bps / 100:g}"
    page.row("Platform fee (net)", format_money(invoice.fee_net, money))
    page.row(f"VAT {rate} %", format_money(invoice.vat_amount, money))
    page.row("Total", format_money(invoice.fee_gross, money), bold=True)
    page.gap()
    page.text("Already deducted from your earnings; nothing to pay.", size=9)
    return page.bytes()


def month_label(month: date) -> str:
    return date_format(month, "F Y")
