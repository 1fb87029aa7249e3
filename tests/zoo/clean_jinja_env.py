"""Renders invoices from five named Jinja2 templates through the environment's own
LRU cache (bounded: 400 templates)."""

import jinja2

_env = jinja2.Environment(
    loader=jinja2.DictLoader(
        {f"invoice-{n}.txt": "Invoice {{ number }} ({{ kind }}) " + "-" * n for n in range(5)}
    ),
    autoescape=True,
)


def handle(job: dict[str, int]) -> str:
    template = _env.get_template(f"invoice-{job['id'] % 5}.txt")
    return template.render(number=job["id"], kind="monthly")
