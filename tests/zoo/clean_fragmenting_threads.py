"""Each job builds and frees many mid-sized buffers on short-lived threads, keeping one in a
bounded ring: objects stay flat, glibc's per-thread arenas keep the freed chunks."""

import random
import threading

_rng = random.Random(11)
_ring: list[bytes] = [b""] * 64
_lock = threading.Lock()


def _build(seed: int) -> None:
    rng = random.Random(seed)
    scratch = [bytes(rng.randint(600, 6000)) for _ in range(1500)]
    with _lock:
        _ring[rng.randrange(len(_ring))] = scratch[rng.randrange(len(scratch))]
    del scratch


def handle(job: dict[str, int]) -> None:
    workers = [threading.Thread(target=_build, args=(job["id"] * 4 + k,)) for k in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
