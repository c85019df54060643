"""The order of a set of strings, in child interpreters with other seeds."""
import os
import subprocess
import sys

CODE = "print(list({'spam', 'eggs', 'ham', 'jam', 'tea'}), list({5, 3, 1, 4}))"

for seed in ("1", "2", "2", "random"):
    env = {**os.environ, "PYTHONHASHSEED": seed}
    child = subprocess.run([sys.executable, "-c", CODE], env=env,
                           capture_output=True, text=True, check=True)
    print(f"PYTHONHASHSEED={seed:7}", child.stdout.strip())
