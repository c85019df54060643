"""inspect reads the source of a function of this file and of the stdlib."""
import inspect
import math
import os
import string


def to_fahrenheit(celsius: float) -> float:
    """Convert a temperature from degrees Celsius to degrees Fahrenheit."""
    return celsius * 9 / 5 + 32


print(inspect.getsource(to_fahrenheit))
file = os.path.basename(inspect.getsourcefile(to_fahrenheit))
line = inspect.getsourcelines(to_fahrenheit)[1]
print(f"found in {file}, line {line}")
print("signature:", inspect.signature(to_fahrenheit))
print("docstring:", inspect.getdoc(to_fahrenheit))
print()

print(inspect.getsource(string.capwords))
print("found in", inspect.getsourcefile(string.capwords))
print()

try:
    inspect.getsource(math.sqrt)  # written in C: there is no Python source
except TypeError as error:
    print("TypeError:", error)
