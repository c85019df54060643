"""Measure a set as it grows, next to a model of its resizing rule.

The rule is the one in CPython's Objects/setobject.c.
"""
import struct
import sys

ENTRY = 2 * struct.calcsize("P")   # an entry: the key pointer and its hash
EMPTY = sys.getsizeof(set())       # includes a small table of 8 entries

s = set()
slots, last = 8, EMPTY
print(f"{'items':>5} {'measured':>9} {'model':>6} {'slots':>6}")
for n in range(1, 400):
    s.add(n)
    resized = n * 5 >= (slots - 1) * 3   # 60% of the table is in use
    if resized:
        new = 8
        while new <= n * 4:          # the new table: more than 4 x the items
            new *= 2
        slots = new
    size = sys.getsizeof(s)
    if resized or size != last:
        print(f"{n:5} {size:9} {EMPTY + slots * ENTRY:6} {slots:6}")
    last = size
