"""Run the same code in child interpreters with different PYTHONHASHSEED."""
import os
import subprocess
import sys

CODE = "print(hash('spam'), hash(('spam', 1)), hash(42), hash((1, 2)))"

print(f"{'seed':7} {'hash(str)':>20} {'hash((str, 1))':>20}"
      f" {'hash(42)':>8} {'hash((1, 2))':>20}")
for seed in ("1", "1", "2", "random", "random"):
    env = {**os.environ, "PYTHONHASHSEED": seed}
    child = subprocess.run([sys.executable, "-c", CODE], env=env,
                           capture_output=True, text=True, check=True)
    text, pair, small, ints = child.stdout.split()
    print(f"{seed:7} {text:>20} {pair:>20} {small:>8} {ints:>20}")
