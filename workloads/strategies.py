"""Hypothesis strategies for the workloads' payloads: the jobs real workers choke on.

Unicode names and addresses, currencies with zero or three minor digits, empty and huge line
lists, refused recipients and dropped connections, malformed and truncated import rows. The
tests fuzz the reference workers and the harness with them.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from worker_soak.workloads.data_import import FIELDS, encode
from worker_soak.workloads.mail import DROP_DOMAIN, REFUSED_DOMAIN
from worker_soak.workloads.payloads import CURRENCIES

text = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=60)
names = text.filter(lambda s: s.strip() != "") | st.sampled_from(
    ["Zoë Ødegaard", "李 王", "محمد الحسيني", "O'Brien, Jr.", "Ярослава Иванова", "A" * 200]
)
currencies = st.sampled_from(CURRENCIES)
line_items = st.fixed_dictionaries(
    {
        "description": text,
        "quantity": st.integers(0, 10_000),
        "unit_price_minor": st.integers(-(10**9), 10**12),
    }
)


@st.composite
def invoice_jobs(draw: st.DrawFn, max_lines: int = 400) -> dict[str, Any]:
    """A pdf-workload job: odd names, currencies and amounts, from no lines to hundreds."""
    currency, digits = draw(currencies)
    return {
        "id": draw(st.integers(0, 10**6)),
        "invoice_number": "INV-" + draw(st.from_regex(r"[A-Z0-9-]{1,20}", fullmatch=True)),
        "customer": {
            "name": draw(names),
            "street": draw(text),
            "city": draw(text),
            "postcode": draw(st.from_regex(r"[0-9A-Z ]{0,10}", fullmatch=True)),
        },
        "currency": currency,
        "minor_digits": digits,
        "lines": draw(st.lists(line_items, max_size=max_lines)),
        "chart": draw(st.booleans()),
    }


addresses = st.one_of(
    st.from_regex(r"[a-z0-9._+-]{1,30}@example\.test", fullmatch=True),
    st.just("renée.o'neil+billing@example.test"),
    st.from_regex(r"[a-z]{1,10}@" + REFUSED_DOMAIN.replace(".", r"\."), fullmatch=True),
    st.from_regex(r"[a-z]{1,10}@" + DROP_DOMAIN.replace(".", r"\."), fullmatch=True),
)


@st.composite
def email_jobs(draw: st.DrawFn) -> dict[str, Any]:
    """An email-workload job, sometimes to a refused recipient or one whose delivery the
    sink drops mid-way."""
    invoice = draw(invoice_jobs(max_lines=60))
    attachment = draw(
        st.one_of(
            st.none(),
            st.fixed_dictionaries(
                {
                    "filename": st.from_regex(r"[\w.-]{1,40}\.(pdf|bin)", fullmatch=True),
                    "bytes": st.integers(0, 200_000),
                    "seed": st.integers(0, 2**32 - 1),
                    "kind": st.sampled_from(["bytes", "pdf"]),
                }
            ),
        )
    )
    return {
        "id": invoice["id"],
        "invoice_number": invoice["invoice_number"],
        "to": {"name": invoice["customer"]["name"], "address": draw(addresses)},
        "currency": invoice["currency"],
        "minor_digits": invoice["minor_digits"],
        "lines": invoice["lines"],
        "attachment": attachment,
    }


def _rows(draw: st.DrawFn, job: int) -> list[dict[str, str]]:
    rows = []
    for number in range(draw(st.integers(0, 60))):
        row = {
            "customer_id": f"F{job}-{number}",
            "name": draw(names),
            "email": draw(st.one_of(addresses, text)),
            "balance_minor": draw(st.one_of(st.integers(-(10**12), 10**12).map(str), text)),
            "currency": draw(currencies)[0],
            "signup_date": draw(st.one_of(st.dates().map(str), text)),
        }
        if draw(st.integers(0, 9)) == 0:
            row.pop(draw(st.sampled_from(FIELDS)))
        rows.append(row)
    return rows


@st.composite
def import_jobs(draw: st.DrawFn) -> dict[str, Any]:
    """An import-workload batch with malformed rows: wrong types, missing fields, garbage
    lines, truncated records."""
    job = draw(st.integers(0, 10**6))
    kind = draw(st.sampled_from(["csv", "jsonl"]))
    rows = _rows(draw, job)
    batch = encode([{f: r.get(f, "") for f in FIELDS} for r in rows], kind)
    if draw(st.booleans()):
        batch += draw(st.sampled_from(["{not json\n", "a,b\n", "\n", "[1, 2]\n", '"x"\n']))
    if batch and draw(st.integers(0, 4)) == 0:
        batch = batch[: draw(st.integers(0, len(batch)))]  # truncated upload
    return {"id": job, "format": kind, "batch": batch, "valid_keys": None}
