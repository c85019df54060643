"""Run the same code in child interpreters with different PYTHONHASHSEED values."""
import os
import subprocess
import sys

CODE = "print(hash('spam'), hash(('spam', 1)), hash(42), hash((1, 2)))"

print(f"{'PYTHONHASHSEED':15} {'hash(str)':>21} {'hash((str, 1))':>21} {'hash(42)':>8} {'hash((1, 2))':>21}")
for seed in ("1", "1", "2", "random", "random"):
    env = {**os.environ, "PYTHONHASHSEED": seed}
    child = subprocess.run([sys.executable, "-c", CODE], env=env, capture_output=True, text=True, check=True)
    text, pair, small, ints = child.stdout.split()
    print(f"{seed:15} {text:>21} {pair:>21} {small:>8} {ints:>21}")
