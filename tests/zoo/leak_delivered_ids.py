"""Remembers every delivered message id in a dict that is never pruned."""

_delivered: dict[str, bool] = {}


def handle(job: dict[str, int]) -> None:
    message_id = f"<{job['id']}.invoice@billing.example>"  # LEAK
    if message_id not in _delivered:
        _delivered[message_id] = True  # LEAK
