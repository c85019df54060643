"""A toy event loop: coroutines that await a sleep, scheduled by a loop of a few dozen lines.

Time is simulated (the loop jumps its clock to the next wake-up instead of waiting),
so the output is the same on every run and the file runs in a few milliseconds.
"""

import heapq
from collections import deque


# --8<-- [start:loop]
class Sleep:
    """An awaitable: `await Sleep(200)` (milliseconds) yields a request up to whoever runs the coroutine."""

    def __init__(self, delay):
        self.delay = delay

    def __await__(self):
        yield ("sleep", self.delay)      # the only yield: this travels up to the loop


class Loop:
    def __init__(self):
        self.clock = 0                   # simulated milliseconds
        self.ready = deque()             # coroutines to resume now
        self.sleeping = []               # heap of (wake-up time, order, coroutine)
        self.order = 0

    def spawn(self, coroutine):
        self.ready.append(coroutine)

    def run(self):
        while self.ready or self.sleeping:
            if not self.ready:           # nothing to do: jump to the next wake-up
                self.clock, _, coroutine = heapq.heappop(self.sleeping)
                self.ready.append(coroutine)
            coroutine = self.ready.popleft()
            try:
                request, delay = coroutine.send(None)   # run it to its next await
            except StopIteration as finished:
                print(f"t={self.clock:3}  a task returned {finished.value!r}")
                continue
            self.order += 1
            heapq.heappush(self.sleeping, (self.clock + delay, self.order, coroutine))
# --8<-- [end:loop]


# --8<-- [start:demo]
async def worker(name, delay, steps):
    for step in range(steps):
        print(f"t={loop.clock:3}  {name} step {step}, now awaiting Sleep({delay})")
        await Sleep(delay)
    return f"{name} done"


async def fetch():
    await Sleep(250)
    return 42


async def main():
    print(f"t={loop.clock:3}  main starts, awaits fetch()")
    value = await fetch()                # await on a coroutine: no trip to the loop
    print(f"t={loop.clock:3}  main got {value}")
    return value


loop = Loop()
loop.spawn(worker("fast", 100, 3))
loop.spawn(worker("slow", 300, 2))
loop.spawn(main())
loop.run()
# --8<-- [end:demo]
