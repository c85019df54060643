"""Bytes per instance, measured with tracemalloc: plain classes, shared keys, __slots__.

Each measurement creates 10,000 instances in a list and divides the memory that
tracemalloc saw allocated (less the list itself) by 10,000.  Attribute values are
None, which is shared, so only the instances and their attribute storage count.
"""

# --8<-- [start:measure]
import sys
import tracemalloc

N = 10_000


def bytes_per_instance(make):
    """Memory allocated per object by make(i), for N objects kept alive."""
    tracemalloc.start()
    objects = [make(i) for i in range(N)]
    allocated = tracemalloc.get_traced_memory()[0] - sys.getsizeof(objects)
    tracemalloc.stop()
    return allocated / N
# --8<-- [end:measure]


# --8<-- [start:kinds]
class Plain:
    def __init__(self):
        self.x = self.y = self.z = None


class Slotted:
    __slots__ = ("x", "y", "z")

    def __init__(self):
        self.x = self.y = self.z = None


def plain_with_dict(i):
    obj = Plain()
    obj.__dict__  # asking for __dict__ makes the dictionary exist
    return obj


def own_dict(i):
    return {"x": None, "y": None, "z": None}  # a separate dict per object


print(f"{'what is created':<42}{'bytes each':>10}")
for label, make in [
    ("Plain(): instance, attributes x, y, z", lambda i: Plain()),
    ("the same, after reading obj.__dict__", plain_with_dict),
    ("Slotted(): __slots__ = ('x', 'y', 'z')", lambda i: Slotted()),
    ("a plain dict {'x':..., 'y':..., 'z':...}", own_dict),
]:
    print(f"{label:<42}{bytes_per_instance(make):>10.0f}")
# --8<-- [end:kinds]


# --8<-- [start:order]
class SameOrder:
    def __init__(self, i):
        self.x = self.y = self.z = None


class OtherOrder:
    def __init__(self, i):
        if i % 2:
            self.x = self.y = self.z = None
        else:
            self.z = self.y = self.x = None  # half of them: z, y, x


class LateAttribute:
    def __init__(self, i):
        self.x = self.y = self.z = None
        if i % 2:
            self.extra = None  # half of them get a fourth attribute


for cls in (SameOrder, OtherOrder, LateAttribute):
    print(f"{cls.__name__:<14}{bytes_per_instance(cls):>6.0f} bytes each")
# --8<-- [end:order]
