"""sys.getsizeof() counts one object; total_size() follows the containers inside it."""

# --8<-- [start:function]
import sys


def total_size(obj, seen=None):
    """Bytes of `obj` plus everything reachable through the built-in containers in it.

    Each object is counted once (`seen` holds the ids already counted), so shared
    elements and cycles are fine. Instances of your own classes are counted with their
    __dict__ only if you extend the function: it follows lists, tuples, sets and dicts.
    """
    if seen is None:
        seen = set()
    if id(obj) in seen:
        return 0
    seen.add(id(obj))
    size = sys.getsizeof(obj)
    if isinstance(obj, dict):
        size += sum(total_size(k, seen) + total_size(v, seen) for k, v in obj.items())
    elif isinstance(obj, (list, tuple, set, frozenset)):
        size += sum(total_size(item, seen) for item in obj)
    return size
# --8<-- [end:function]


# --8<-- [start:compare]
small = [1, 2, 3]
large = ["x" * 10_000, "y" * 10_000, "z" * 10_000]
shared = ["x" * 10_000] * 3                       # one string, three references
nested = {"users": [{"name": "ada", "langs": ["python", "c"]}] * 2}

for name, obj in [("small", small), ("large", large), ("shared", shared), ("nested", nested)]:
    print(f"{name:7} getsizeof {sys.getsizeof(obj):6,}   total_size {total_size(obj):7,}")
# --8<-- [end:compare]

assert total_size(large) > 30_000 > sys.getsizeof(large)
assert total_size(shared) < total_size(large)
loop = []
loop.append(loop)
assert total_size(loop) == sys.getsizeof(loop)
