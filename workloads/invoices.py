"""The pdf workload: render an invoice with fpdf2 — header, address block, line items that
run over several pages for the large profile, totals, and optionally a matplotlib chart of
the amounts.

Text goes through fpdf2's core fonts, which cover Latin-1 only; anything else is transliterated
to '?' on purpose and documented, as a real invoice service would have to decide.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Mapping
from typing import Any, Final

from worker_soak.workloads.base import FaultyWorker, Job, Workload, profile_of, rng_for
from worker_soak.workloads.payloads import CURRENCIES, invoice_lines, money, person

LINES: Final = {"small": (1, 8), "medium": (20, 60), "large": (150, 400)}
#: Every n-th job of the large profile carries a chart.
CHART_EVERY: Final = {"small": 0, "medium": 10, "large": 2}


def generate(count: int, seed: int, options: Mapping[str, str]) -> Iterator[Job]:
    profile = profile_of(options)
    low, high = LINES[profile]
    chart_every = CHART_EVERY[profile]
    for index in range(count):
        rng = rng_for(seed, index, "pdf")
        currency, digits = rng.choice(CURRENCIES)
        yield {
            "id": index,
            "invoice_number": f"INV-{seed:04d}-{index:06d}",
            "customer": person(rng),
            "currency": currency,
            "minor_digits": digits,
            "lines": invoice_lines(rng, rng.randint(low, high), digits),
            "chart": bool(chart_every) and index % chart_every == 0,
        }


def _latin1(text: str) -> str:
    return text.encode("latin-1", "replace").decode("latin-1")


def render_invoice(job: Job) -> bytes:
    """The invoice as PDF bytes."""
    from fpdf import FPDF

    digits = int(job["minor_digits"])
    currency = job["currency"]
    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(auto=True, margin=20)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 18)
    pdf.cell(0, 12, f"Invoice {job['invoice_number']}", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=11)
    customer = job["customer"]
    for line in (
        customer["name"],
        customer["street"],
        f"{customer['postcode']} {customer['city']}".strip(),
    ):
        if line:
            pdf.cell(0, 6, _latin1(line), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(6)
    pdf.set_font("Helvetica", "B", 10)
    widths = (95, 20, 35, 40)
    for width, title in zip(widths, ("Item", "Qty", "Unit price", "Amount"), strict=True):
        pdf.cell(width, 7, title, border=1)
    pdf.ln()
    pdf.set_font("Helvetica", size=10)
    total = 0
    for item in job["lines"]:
        amount = item["quantity"] * item["unit_price_minor"]
        total += amount
        cells = (
            _latin1(item["description"]),
            str(item["quantity"]),
            money(item["unit_price_minor"], currency, digits),
            money(amount, currency, digits),
        )
        for width, text in zip(widths, cells, strict=True):
            pdf.cell(width, 6, text, border=1)
        pdf.ln()
    if not job["lines"]:
        pdf.cell(sum(widths), 6, "No charges this period.", border=1)
        pdf.ln()
    pdf.set_font("Helvetica", "B", 11)
    pdf.cell(sum(widths[:3]), 8, "Total", border=1)
    pdf.cell(widths[3], 8, money(total, currency, digits), border=1)
    pdf.ln(12)
    if job.get("chart") and job["lines"]:
        pdf.image(_chart_png(job), w=170)
    return bytes(pdf.output())


def _chart_png(job: Job) -> io.BytesIO:
    """A bar chart of the line amounts (matplotlib, Agg, no display)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    amounts = [item["quantity"] * item["unit_price_minor"] for item in job["lines"][:30]]
    figure = Figure(figsize=(6, 2.5), dpi=80)
    axes = figure.add_subplot()
    axes.bar(range(len(amounts)), amounts, color="#4878a8")
    axes.set_title(f"Line amounts ({job['currency']}, minor units)")
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    buffer.seek(0)
    return buffer


class InvoicePdfWorker:
    """Reference worker: render, check the result is a PDF, keep nothing."""

    def handle(self, job: Job) -> dict[str, Any]:
        data = render_invoice(job)
        if not data.startswith(b"%PDF-"):
            raise ValueError(f"invoice {job['invoice_number']} did not render as a PDF")
        return {"invoice_number": job["invoice_number"], "bytes": len(data)}


class ArchivingPdfWorker(InvoicePdfWorker):
    """Faulty: keeps every rendered PDF in memory "until the archive job runs" — it never does."""

    def __init__(self) -> None:
        self.archive: list[bytes] = []

    def handle(self, job: Job) -> dict[str, Any]:
        data = render_invoice(job)
        self.archive.append(data)  # the leak
        return {"invoice_number": job["invoice_number"], "bytes": len(data)}


WORKLOAD = Workload(
    name="pdf",
    summary="invoices rendered with fpdf2: address block, line items over pages, totals, "
    "matplotlib charts",
    generate=generate,
    reference_worker="worker_soak.workloads.invoices:InvoicePdfWorker",
    faulty={
        "archive": FaultyWorker(
            "worker_soak.workloads.invoices:ArchivingPdfWorker",
            "memory",
            "keeps every rendered PDF",
        )
    },
)
