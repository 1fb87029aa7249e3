"""Keeps one pointer per job: 8 bytes/job, in a list that grows."""

_marks: list[None] = []


def handle(job: dict[str, int]) -> None:
    _marks.append(None)  # LEAK
