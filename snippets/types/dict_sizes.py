"""Measure a dict as it grows; explain each jump by its indices and entries."""
import struct
import sys

POINTER = struct.calcsize("P")      # bytes in a pointer: 8 on a 64-bit build


def table(used):
    """Slots and usable entries of the table a resize picks for `used` keys."""
    slots = 8
    while slots < used * 3:         # GROWTH_RATE
        slots *= 2
    return slots, slots * 2 // 3    # USABLE_FRACTION


def index_bytes(slots):
    """Each index is as small as the table allows: 1 byte up to 128 slots,
    then 2, 4 or 8."""
    if slots <= 128:
        return 1
    return 2 if slots <= 2**15 else 4 if slots <= 2**31 else 8


d = {}
slots, usable = 8, 5
last = sys.getsizeof(d)
print(f"{'keys':>5} {'bytes':>6} {'slots':>6} {'entries':>8}"
      f" {'jump':>6} {'expected':>9}")
for n in range(1, 200):
    d[n] = None
    size = sys.getsizeof(d)
    if size != last and n > 1:      # the table was replaced by a bigger one
        new_slots, new_usable = table(n - 1)
        indices = (new_slots * index_bytes(new_slots)
                   - slots * index_bytes(slots))
        entries = (new_usable - usable) * 3 * POINTER  # hash, key, value
        print(f"{n:5} {size:6} {new_slots:6} {new_usable:8}"
              f" {size - last:6} {indices + entries:9}")
        slots, usable = new_slots, new_usable
    elif n == 1:
        print(f"{n:5} {size:6} {slots:6} {usable:8}")
    last = size
