"""Shared pieces of the synthetic payloads: people, addresses, currencies, invoice lines.

Names and addresses are deliberately international (accents, non-Latin scripts, long names),
currencies include ones with zero and three minor digits, since the real bugs hide there.
"""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any, Final

FIRST_NAMES: Final = (
    "Anna",
    "José",
    "Zoë",
    "Łukasz",
    "Søren",
    "Aiko",
    "Ngozi",
    "Björk",
    "Dmitri",
    "Marie-Claire",
    "Nguyễn",
    "Olamide",
    "Wolfgang",
    "Chloé",
    "Ярослава",
    "李",
    "محمد",
    "Αλέξανδρος",
    "O'Brien",
)
LAST_NAMES: Final = (
    "Müller",
    "García",
    "Smith",
    "Ødegaard",
    "Kowalski",
    "Tanaka",
    "Okafor",
    "Dupont",
    "Ivanova",
    "Nakamura-Smith",
    "Văn An",
    "Ó Súilleabháin",
    "王",
    "الحسيني",
    "Παπαδόπουλος",
)
STREETS: Final = ("Hauptstraße", "Rue de la Paix", "Main St", "Calle Mayor", "Ulica Długa")
CITIES: Final = ("Berlin", "Paris", "Springfield", "Madrid", "Gdańsk", "Москва", "東京")
PRODUCTS: Final = (
    "Consulting hours",
    "Cloud storage (TB/month)",
    "Support plan — premium",
    "Licence seat",
    "Onboarding workshop",
    "Überstunden",
    "Frais de port",
    "Data export (CSV)",
)
#: ISO 4217 code and minor digits: JPY has none, BHD and KWD three.
CURRENCIES: Final = (
    ("EUR", 2),
    ("USD", 2),
    ("GBP", 2),
    ("JPY", 0),
    ("BHD", 3),
    ("KWD", 3),
    ("CHF", 2),
)


def person(rng: random.Random) -> dict[str, str]:
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    return {
        "name": f"{first} {last}",
        "street": f"{rng.randint(1, 999)} {rng.choice(STREETS)}",
        "city": rng.choice(CITIES),
        "postcode": f"{rng.randint(1000, 99999)}",
    }


def invoice_lines(rng: random.Random, count: int, minor_digits: int) -> list[dict[str, Any]]:
    """Line items with prices in minor units (cents, fils, yen)."""
    lines = []
    for _ in range(count):
        quantity = rng.randint(1, 40)
        unit = (
            rng.randint(1, 5_000)
            * 10 ** max(0, minor_digits - 2)
            * (100 if minor_digits == 0 else 1)
        )
        lines.append(
            {"description": rng.choice(PRODUCTS), "quantity": quantity, "unit_price_minor": unit}
        )
    return lines


def money(minor: int, currency: str, minor_digits: int) -> str:
    """'1,234.56 EUR' from minor units."""
    value = Decimal(minor).scaleb(-minor_digits)
    return f"{value:,.{minor_digits}f} {currency}"
