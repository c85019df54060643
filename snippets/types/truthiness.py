"""Which values are false? Everything that is empty or zero, and only that."""
from decimal import Decimal
from fractions import Fraction

zeros = [None, False, 0, 0.0, 0j, Decimal(0), Fraction(0)]
empties = ["", b"", [], (), {}, set(), range(0)]
surprising = ["False", " ", "0", [0], [[]], (None,), float("nan"), -1, 0.0001]

print("false:", ", ".join(repr(value) for value in zeros if not value))
print("false:", ", ".join(repr(value) for value in empties if not value))
print("true: ", ", ".join(repr(value) for value in surprising if value))


class Basket:
    """No __bool__: Python falls back on __len__."""

    def __init__(self, *items):
        self.items = list(items)

    def __len__(self):
        return len(self.items)


class Account:
    """__bool__ decides, whatever else the object has."""

    def __init__(self, balance):
        self.balance = balance

    def __bool__(self):
        return self.balance > 0


print(bool(Basket()), bool(Basket("spam")))
print(bool(Account(0)), bool(Account(10)), bool(object()))
