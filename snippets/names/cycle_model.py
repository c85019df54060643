"""A model of how CPython's cycle collector finds unreachable objects, checked against gc.

The collector never looks for garbage directly.  It takes a set of tracked containers,
copies each one's reference count, subtracts every reference that comes from inside
the set, and keeps whatever still has a count above zero: something outside the set
refers to it, so it is reachable.  Everything those objects refer to is reachable too.
What is left is unreachable, and only cycles can be left.
"""

# --8<-- [start:model]
import gc
import sys


def count_refs(objects):
    """sys.getrefcount of each object, less the references this measurement adds."""
    counts = [sys.getrefcount(obj) for obj in objects]
    probe = [object()]  # one object held by one list: its true count is 1
    overhead = [sys.getrefcount(obj) for obj in probe][0] - 1
    return [count - overhead - 1 for count in counts]  # -1: the list `objects`


def find_unreachable(objects):
    """Indexes of the objects that nothing outside `objects` can reach."""
    position = {id(obj): i for i, obj in enumerate(objects)}
    gc_refs = count_refs(objects)  # step 1: copy the reference counts
    copied = list(gc_refs)
    for obj in objects:  # step 2: subtract references from inside the set
        for referent in gc.get_referents(obj):
            if id(referent) in position:
                gc_refs[position[id(referent)]] -= 1
    reachable = {i for i, refs in enumerate(gc_refs) if refs > 0}  # step 3
    todo = list(reachable)
    while todo:  # step 4: what a reachable object refers to is reachable
        for referent in gc.get_referents(objects[todo.pop()]):
            i = position.get(id(referent))
            if i is not None and i not in reachable:
                reachable.add(i)
                todo.append(i)
    unreachable = [i for i in range(len(objects)) if i not in reachable]
    return copied, gc_refs, unreachable
# --8<-- [end:model]


# --8<-- [start:small]
def demo():
    a, b = ["a"], ["b"]
    a.append(b)
    b.append(a)  # a <-> b: a cycle
    c, d, e = ["c"], ["d"], ["e"]
    c.append(d)
    d.append(c)  # c <-> d: another cycle
    d.append(e)  # d -> e
    keep = c  # ... but a name still refers to c
    objects = [a, b, c, d, e]
    del a, b, c, d, e  # only `objects` (discounted) and `keep` remain

    copied, after, unreachable = find_unreachable(objects)
    print("object  refcount  minus internal  verdict")
    for i, obj in enumerate(objects):
        if i in unreachable:
            verdict = "unreachable"
        elif after[i] > 0:
            verdict = "reachable: referenced from outside"
        else:
            verdict = "reachable: from a reachable object"
        print(f"  {obj[0]:<6}{copied[i]:>8}{after[i]:>16}  {verdict}")
    predicted = {id(objects[i]) for i in unreachable}
    survivors = {id(obj) for i, obj in enumerate(objects) if i not in unreachable}
    del objects, obj

    gc.set_debug(gc.DEBUG_SAVEALL)  # keep what the collector frees in gc.garbage
    gc.collect()
    found = {id(obj) for obj in gc.garbage}
    gc.set_debug(0)
    print("model's unreachable all collected by gc:", predicted <= found)
    print("model's reachable all kept by gc:       ", not (survivors & found))
    print("keep still works:", keep[0], "->", keep[1][0], "->", keep[1][2][0])
    gc.garbage.clear()


gc.disable()  # no automatic collection in the middle of the demonstration
gc.collect()
demo()
gc.enable()
# --8<-- [end:small]


# --8<-- [start:heap]
from collections import Counter


class Node:
    def __init__(self, name):
        self.name = name
        self.partner = None


def make_garbage():
    for n in range(3):
        x, y = Node(f"x{n}"), Node(f"y{n}")
        x.partner, y.partner = y, x  # a cycle of two instances, then dropped
    loop = []
    loop.append(loop)  # a list that contains itself


def check_whole_heap():
    make_garbage()
    objects = gc.get_objects()  # every object the collector tracks
    _, _, unreachable = find_unreachable(objects)
    predicted = {id(objects[i]) for i in unreachable}
    kinds = Counter(type(objects[i]).__name__ for i in unreachable)
    del objects
    gc.set_debug(gc.DEBUG_SAVEALL)
    freed = gc.collect()
    found = {id(obj) for obj in gc.garbage}
    gc.set_debug(0)
    gc.garbage.clear()
    print("the model finds", len(predicted), "unreachable:", dict(sorted(kinds.items())))
    print("gc.collect() found:", freed, " the same objects:", predicted == found)


gc.disable()
gc.collect()
check_whole_heap()
gc.enable()
# --8<-- [end:heap]
