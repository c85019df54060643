"""sys.getsizeof() counts one object; total_size() follows the containers."""

# --8<-- [start:function]
import sys


def total_size(obj, seen=None):
    """Bytes of `obj` plus everything reachable through the built-in containers
    in it (lists, tuples, sets and dicts; extend it for your own classes).

    Each object is counted once (`seen` holds the ids already counted), so
    shared elements and cycles are fine.
    """
    if seen is None:
        seen = set()
    if id(obj) in seen:
        return 0
    seen.add(id(obj))
    size = sys.getsizeof(obj)
    if isinstance(obj, dict):
        for key, value in obj.items():
            size += total_size(key, seen) + total_size(value, seen)
    elif isinstance(obj, (list, tuple, set, frozenset)):
        size += sum(total_size(item, seen) for item in obj)
    return size
# --8<-- [end:function]


# --8<-- [start:compare]
small = [1, 2, 3]
large = ["x" * 10_000, "y" * 10_000, "z" * 10_000]
shared = ["x" * 10_000] * 3              # one string, three references
nested = {"users": [{"name": "ada", "langs": ["python", "c"]}] * 2}

for name, obj in [("small", small), ("large", large),
                  ("shared", shared), ("nested", nested)]:
    print(f"{name:7} getsizeof {sys.getsizeof(obj):6,}",
          f"  total_size {total_size(obj):7,}")
# --8<-- [end:compare]

assert total_size(large) > 30_000 > sys.getsizeof(large)
assert total_size(shared) < total_size(large)
loop = []
loop.append(loop)
assert total_size(loop) == sys.getsizeof(loop)
