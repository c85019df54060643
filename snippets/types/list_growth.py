"""Watch a list over-allocate as it grows, next to CPython's growth rule."""
import sys

EMPTY = sys.getsizeof([])
POINTER = 8 if sys.maxsize > 2**32 else 4


def rule(newsize: int) -> int:
    """The capacity list_resize() in Objects/listobject.c picks (3.9+)."""
    return (newsize + (newsize >> 3) + 6) & ~3


items = []
capacity = 0
print(" len  bytes  capacity  rule")
for n in range(1, 65):
    items.append(n)
    size = sys.getsizeof(items)
    if size != EMPTY + capacity * POINTER:  # the list just grew its array
        capacity = (size - EMPTY) // POINTER
        print(f"{n:4} {size:6} {capacity:9} {rule(n):5}")
