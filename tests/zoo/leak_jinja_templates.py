"""Compiles a Jinja2 template per job and caches it by the job's subject line: the cache
is a plain dict, so every compiled template stays."""

import jinja2

_env = jinja2.Environment(autoescape=True)
_compiled: dict[str, jinja2.Template] = {}


def handle(job: dict[str, int]) -> str:
    source = "Invoice {{ number }} for order " + str(job["id"])
    template = _compiled.get(source)
    if template is None:
        template = _compiled[source] = _env.from_string(source)  # LEAK
    return template.render(number=job["id"])
