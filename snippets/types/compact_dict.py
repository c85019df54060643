"""A model, in Python, of CPython's compact dict.

A sparse table of indices in front of a dense list of entries. It follows
Objects/dictobject.c: the same table sizes, the same 2/3 load limit, the same
probe sequence. Keys are small ints here, whose hash is the int itself, so that
the slots can be worked out by hand.
"""

DUMMY = "<deleted>"


class CompactDict:
    def __init__(self):
        self.indices = [None] * 8   # the hash table: slot -> entry number
        self.entries = []           # [hash, key, value] in insertion order
        self.used = 0

    def _slots(self, h):
        """The probe sequence: where to look for a key with hash h, in order."""
        mask = len(self.indices) - 1
        perturb = h & (2**64 - 1)   # C uses the hash as an unsigned number
        i = h & mask
        while True:
            yield i
            perturb >>= 5           # PERTURB_SHIFT: bring in the higher bits
            i = (i * 5 + perturb + 1) & mask

    def _find(self, key):
        h = hash(key)
        for slot in self._slots(h):
            index = self.indices[slot]
            if index is None:
                return h, slot, None      # an empty slot: the key is not here
            if index is DUMMY:
                continue                  # a deleted key was here: keep probing
            entry = self.entries[index]
            if entry[1] is key or (entry[0] == h and entry[1] == key):
                return h, slot, index

    def __setitem__(self, key, value):
        h, slot, index = self._find(key)
        if index is not None:
            self.entries[index][2] = value    # an existing key keeps its place
            return
        if len(self.entries) >= len(self.indices) * 2 // 3:  # USABLE_FRACTION
            self._resize()
            h, slot, index = self._find(key)
        self.indices[slot] = len(self.entries)
        self.entries.append([h, key, value])
        self.used += 1

    def __delitem__(self, key):
        h, slot, index = self._find(key)
        if index is None:
            raise KeyError(key)
        self.indices[slot] = DUMMY    # probing must still pass this slot
        self.entries[index] = None    # a hole; the others keep their order
        self.used -= 1

    def _resize(self):
        size = 8
        while size < self.used * 3:   # GROWTH_RATE, up to a power of 2
            size *= 2
        live = [entry for entry in self.entries if entry is not None]
        self.indices, self.entries, self.used = [None] * size, [], 0
        for h, key, value in live:    # re-insert: holes and dummies go
            self[key] = value

    def show(self, title):
        print(title)
        print("  indices:", ["-" if i is None else i for i in self.indices])
        for position, entry in enumerate(self.entries):
            shown = "(hole)" if entry is None else tuple(entry)
            print(f"  entries[{position}]:", shown)


d = CompactDict()
d[1] = "one"
d[9] = "nine"      # 9 & 7 == 1, the slot of key 1: a collision
d[4] = "four"
d.show("after inserting 1, 9, 4 (8 slots):")
del d[1]
d.show("after deleting 1:")
for k in (20, 30, 40, 50):
    d[k] = str(k)
d.show("after inserting 4 more keys (the 6th insertion resized the table):")
