"""A ring buffer built on collections.abc.Sequence, measured against collections.deque.

Sections:
  ring     the class: storage allocated once, __len__ and __getitem__, the rest from Sequence
  demo     using it: append past capacity, index, slice, in, reversed, index(), count()
  fast     a subclass that replaces the generic __iter__ inherited from Sequence
  memory   bytes per container, measured with tracemalloc, against deque(maxlen=...) and list

Run on its own, it runs every section.
"""

# --8<-- [start:ring]
import operator
from collections.abc import Sequence
from itertools import islice  # used by FastRingBuffer, step 5


class RingBuffer(Sequence):
    """The last `capacity` items appended, oldest first."""

    __slots__ = ("_items", "_start", "_size")

    def __init__(self, capacity):
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self._items = [None] * capacity  # allocated once, never grows
        self._start = 0  # where the oldest item is
        self._size = 0  # how many slots hold an item

    def append(self, item):
        capacity = len(self._items)
        self._items[(self._start + self._size) % capacity] = item
        if self._size < capacity:
            self._size += 1
        else:  # full: that overwrote the oldest item
            self._start = (self._start + 1) % capacity

    def __len__(self):
        return self._size

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(self._size))]
        index = operator.index(index)  # ints and int-like objects only
        if index < 0:
            index += self._size
        if not 0 <= index < self._size:
            raise IndexError("RingBuffer index out of range")
        return self._items[(self._start + index) % len(self._items)]

    def __repr__(self):
        return f"RingBuffer({list(self)!r}, capacity={len(self._items)})"
# --8<-- [end:ring]


def demo():
    # --8<-- [start:demo]
    recent = RingBuffer(4)
    for word in "the quick brown fox jumps over".split():
        recent.append(word)
    print(recent)
    print("len:", len(recent), "| first:", recent[0], "| last:", recent[-1])
    print("slice [1:3]:", recent[1:3])
    print("'fox' in recent:", "fox" in recent, "| 'the' in recent:", "the" in recent)
    print("reversed:", list(reversed(recent)))
    print("index('over'):", recent.index("over"), "| count('fox'):", recent.count("fox"))
    try:
        recent[4]
    except IndexError as error:
        print("recent[4]: IndexError:", error)
    # --8<-- [end:demo]


# --8<-- [start:fast]
class FastRingBuffer(RingBuffer):
    """The same buffer, iterated by walking the list itself."""

    __slots__ = ()

    def __iter__(self):
        # the items from the oldest to the end of the list, then from its start
        end = self._start + self._size
        yield from islice(self._items, self._start, min(end, len(self._items)))
        yield from islice(self._items, 0, max(0, end - len(self._items)))
# --8<-- [end:fast]


def check_fast():
    for capacity in (1, 3, 5):
        slow, fast = RingBuffer(capacity), FastRingBuffer(capacity)
        for n in range(12):
            slow.append(n)
            fast.append(n)
            assert list(fast) == list(slow) == [slow[i] for i in range(len(slow))]
            assert all((x in fast) == (x in slow) for x in range(-1, 13))


def memory():
    # --8<-- [start:memory]
    import sys
    import tracemalloc
    from collections import deque

    CAPACITY = 1_000
    item = object()  # one shared item: only the containers are counted

    def allocated_by(build):
        """Bytes tracemalloc saw allocated, and still held, while build() ran."""
        tracemalloc.start()
        container = build()
        size = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
        return container, size

    def ring():
        buffer = RingBuffer(CAPACITY)
        for _ in range(3 * CAPACITY):  # wrapped around three times
            buffer.append(item)
        return buffer

    def bounded_deque():
        buffer = deque(maxlen=CAPACITY)
        for _ in range(3 * CAPACITY):
            buffer.append(item)
        return buffer

    def plain_list():
        return [item] * CAPACITY

    print(f"{CAPACITY} items kept       getsizeof  tracemalloc")
    for name, build in [("RingBuffer", ring), ("deque(maxlen=...)", bounded_deque),
                        ("list", plain_list)]:
        container, size = allocated_by(build)
        assert len(container) == CAPACITY
        print(f"{name:20} {sys.getsizeof(container):9}  {size:11}")
    # --8<-- [end:memory]


if __name__ == "__main__":
    demo()
    check_fast()
    memory()
