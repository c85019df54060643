"""Which objects pymalloc serves, seen in sys._debugmallocstats()'s table."""

# --8<-- [start:probe]
import os
import sys
import tempfile


def blocks_per_size_class():
    """{block size: blocks in use}, from sys._debugmallocstats()'s table."""
    sys.stderr.flush()
    with tempfile.TemporaryFile(mode="w+") as report:
        saved = os.dup(2)
        os.dup2(report.fileno(), 2)   # the C function writes to descriptor 2
        try:
            sys._debugmallocstats()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        report.seek(0)
        rows = [line.split() for line in report]
    # the table's rows: class, size, num pools, blocks in use, avail blocks
    table = [r for r in rows if len(r) == 5 and r[0].isdigit()]
    return {int(r[1]): int(r[3]) for r in table}


empty = sys.getsizeof(b"")   # a bytes object of n bytes takes empty + n bytes
blocks_per_size_class()      # warm up: the first call allocates a little
for size in (100, 300, 512, 513, 2000):
    before = blocks_per_size_class()
    keep = [bytes(size - empty) for _ in range(1000)]  # 1000 of `size` bytes
    after = blocks_per_size_class()
    grew = {c: after[c] - before.get(c, 0) for c in after}
    where = [f"{n} more blocks in the {c}-byte class"
             for c, n in grew.items() if n >= 900]
    where = ", ".join(where) or "no size class grew (not from pymalloc)"
    print(f"1000 objects of {size:4} bytes: {where}")
    del keep
# --8<-- [end:probe]
