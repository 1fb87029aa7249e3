"""The pdf workload renders real invoices: pypdf opens them, counts pages, reads the text."""

from __future__ import annotations

import io
from typing import Any

import pypdf
import pytest
from hypothesis import given, settings

from worker_soak.workloads.invoices import (
    ArchivingPdfWorker,
    InvoicePdfWorker,
    generate,
    render_invoice,
)
from worker_soak.workloads.strategies import invoice_jobs


def _read(data: bytes) -> pypdf.PdfReader:
    return pypdf.PdfReader(io.BytesIO(data))


@pytest.mark.parametrize(("profile", "min_pages"), [("small", 1), ("medium", 1), ("large", 4)])
def test_generated_invoices_open_with_their_text(profile: str, min_pages: int) -> None:
    """Each invoice opens, has the expected pages, and shows its number and total."""
    for job in generate(6, 11, {"profile": profile}):
        reader = _read(render_invoice(job))
        assert len(reader.pages) >= min_pages
        text = "".join(page.extract_text() for page in reader.pages)
        assert job["invoice_number"] in text
        assert "Total" in text
        assert text.count(job["currency"]) >= len(job["lines"]) * 2 + 1


def test_large_invoice_runs_over_several_pages_with_a_chart() -> None:
    """A 300-line invoice with a chart: several pages and an embedded image."""
    job = next(j for j in generate(10, 5, {"profile": "large"}) if j["chart"])
    reader = _read(render_invoice(job))
    assert len(reader.pages) > 3
    assert any(page.images for page in reader.pages)


@settings(max_examples=25, deadline=None)
@given(invoice_jobs(max_lines=120))
def test_any_invoice_renders_to_a_readable_pdf(job: dict[str, Any]) -> None:
    """Unicode names, odd currencies, empty or long line lists: always a valid PDF."""
    data = InvoicePdfWorker().handle(job)
    assert data["bytes"] > 0
    reader = _read(render_invoice(job))
    assert job["invoice_number"] in reader.pages[0].extract_text()


def test_archiving_worker_keeps_every_pdf() -> None:
    """The faulty worker's archive grows by one PDF per job."""
    worker = ArchivingPdfWorker()
    for job in generate(5, 0, {}):
        worker.handle(job)
    assert len(worker.archive) == 5
