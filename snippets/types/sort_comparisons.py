"""Count the comparisons list.sort() makes on inputs of different shapes."""
import math
import random


class Counted:
    """A value that counts how often it is compared with <."""

    comparisons = 0
    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value

    def __lt__(self, other):
        Counted.comparisons += 1
        return self.value < other.value


def comparisons(values):
    items = [Counted(v) for v in values]
    Counted.comparisons = 0
    items.sort()
    return Counted.comparisons


rng = random.Random(2024)   # the same data on every run and every version
n = 5_000
shuffled = [rng.random() for _ in range(n)]
runs = []                   # sorted stretches of assorted lengths, in a row
while len(runs) < n:
    length = rng.choice([20, 100, 400, 1500])
    runs.extend(sorted(rng.random() for _ in range(length)))
inputs = {
    "already sorted": sorted(shuffled),
    "sorted backwards": sorted(shuffled, reverse=True),
    "two sorted halves": sorted(shuffled[: n // 2]) + sorted(shuffled[n // 2:]),
    "many sorted runs": runs[:n],
    "random": shuffled,
}
# log2(n!): no comparison sort needs fewer comparisons on average
bound = math.lgamma(n + 1) / math.log(2)
print(f"{n:,} items; any comparison sort needs about {bound:,.0f}"
      " comparisons on random input")
for name, values in inputs.items():
    print(f"{name:18} {comparisons(values):7,} comparisons")
