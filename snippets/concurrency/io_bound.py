"""Waiting done three ways: one wait after another, in threads, with asyncio."""

# --8<-- [start:workload]
import asyncio
import time
from concurrent.futures import ThreadPoolExecutor

WAITS = 4      # four independent waits, like four requests to a slow server
DELAY = 0.025  # seconds each one waits


def wait(_=None):
    time.sleep(DELAY)  # blocks this thread; the GIL is free meanwhile


def sequential():
    for _ in range(WAITS):
        wait()


def threads():
    with ThreadPoolExecutor(max_workers=WAITS) as pool:
        list(pool.map(wait, range(WAITS)))


async def wait_async():
    await asyncio.sleep(DELAY)  # lets the event loop run other tasks


async def all_waits():
    await asyncio.gather(*(wait_async() for _ in range(WAITS)))


def with_asyncio():
    asyncio.run(all_waits())
# --8<-- [end:workload]


if __name__ == "__main__":
    for way in (sequential, threads, with_asyncio):
        started = time.perf_counter()
        way()
        print(f"{way.__name__:<13}{time.perf_counter() - started:.3f} s")
