"""What happens when two kinds of number meet in an operation or comparison."""
import numbers
from decimal import Decimal
from fractions import Fraction
from itertools import combinations

samples = [1, 0.5, 2j, Fraction(1, 3), Decimal("0.5")]

for a, b in combinations(samples, 2):  # a + b and b + a give the same type
    try:
        result = a + b
        outcome = f"{type(result).__name__:8} {result!r}"
    except TypeError:
        outcome = "TypeError"
    print(f"{type(a).__name__:>8} + {type(b).__name__:8} -> {outcome}")

print("-" * 40)
print("Decimal('0.5') == 0.5          ", Decimal("0.5") == 0.5)
print("Decimal('0.1') == 0.1          ", Decimal("0.1") == 0.1)
print("Fraction(1, 10) == 0.1         ", Fraction(1, 10) == 0.1)
print("Decimal('0.5') < Fraction(2, 3)", Decimal("0.5") < Fraction(2, 3))
print("-" * 40)
print(f"{'':9} {'int':5} {'float':5} {'Fraction':8} Decimal")
kinds = (numbers.Integral, numbers.Rational, numbers.Real, numbers.Complex,
         numbers.Number)
for kind in kinds:
    row = [isinstance(x, kind) for x in (1, 1.0, Fraction(1), Decimal(1))]
    print(f"{kind.__name__:9} {row[0]!s:5} {row[1]!s:5} {row[2]!s:8} {row[3]}")
