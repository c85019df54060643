"""CPU-bound work done three ways: in sequence, in threads, in processes."""

# --8<-- [start:workload]
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

TASKS = 4        # four equal pieces of work
SIZE = 500_000   # loop turns per piece
WORKERS = 2      # threads or processes working at once


def crunch(n):
    """Pure Python arithmetic: it holds the GIL the whole time it runs."""
    total = 0
    for i in range(n):
        total += i * i % 7
    return total


def sequential():
    return [crunch(SIZE) for _ in range(TASKS)]


def threads():
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        return list(pool.map(crunch, [SIZE] * TASKS))


def processes():
    # Starting the worker processes is part of the cost, and is timed too.
    with ProcessPoolExecutor(max_workers=WORKERS) as pool:
        return list(pool.map(crunch, [SIZE] * TASKS))
# --8<-- [end:workload]


if __name__ == "__main__":
    import time

    expected = sequential()
    for way in (sequential, threads, processes):
        started = time.perf_counter()
        result = way()
        elapsed = time.perf_counter() - started
        same = result == expected
        print(f"{way.__name__:<12}{elapsed:.3f} s, same result: {same}")
