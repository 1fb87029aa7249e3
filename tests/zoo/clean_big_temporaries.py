"""Every job builds a 20 MiB temporary report and drops it."""


def handle(job: dict[str, int]) -> int:
    report = bytearray(20 * 1024 * 1024)
    report[job["id"] % len(report)] = 1
    return len(report)
