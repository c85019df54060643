"""C code that releases the GIL (hashlib) against Python code that holds it, in threads."""

# --8<-- [start:workload]
import hashlib
from concurrent.futures import ThreadPoolExecutor

BUFFERS = [bytes([i]) * 8_000_000 for i in range(4)]   # four 8 MB buffers
WORKERS = 2


def digest(buffer):
    """hashlib releases the GIL while it hashes a buffer larger than 2 KiB."""
    return hashlib.sha256(buffer).hexdigest()


def count(buffer):
    """A pure-Python loop over a slice: it holds the GIL the whole time."""
    total = 0
    for byte in buffer[:200_000]:
        total += byte
    return total


def in_sequence(work):
    return [work(b) for b in BUFFERS]


def in_threads(work):
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        return list(pool.map(work, BUFFERS))
# --8<-- [end:workload]


if __name__ == "__main__":
    import time

    for work in (digest, count):
        for way in (in_sequence, in_threads):
            started = time.perf_counter()
            result = way(work)
            print(f"{work.__name__:6} {way.__name__:11} {time.perf_counter() - started:.3f} s")
        assert in_sequence(work) == in_threads(work)
