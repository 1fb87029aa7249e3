"""A zoo of workers: ones that leak in every way we know, and clean ones that look leaky.

Each module has a ``handle(job)``; a leaking line carries the comment ``# LEAK`` so the tests
can check that the harness names it. ``CASES`` in :mod:`tests.zoo.accuracy` says what each
worker must get.
"""
