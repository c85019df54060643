"""Import a module, run a script, and list the files Python wrote."""

import os
import subprocess
import sys
from pathlib import Path

project = Path("project")
project.mkdir(exist_ok=True)
(project / "greet.py").write_text("def hello(name):\n    return 'Hi ' + name")
(project / "main.py").write_text('import greet\nprint(greet.hello("pyc"))\n')

# Run the child with Python's defaults: drop the PYTHON* variables this process
# inherited (PYTHONDONTWRITEBYTECODE, for one, would stop it writing anything).
env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
run = subprocess.run([sys.executable, "main.py"], cwd=project, env=env,
                     capture_output=True, text=True, check=True)

print("python main.py printed:", run.stdout.strip())
print("this interpreter's cache tag:", sys.implementation.cache_tag)
print("files in project/ afterwards:")
for path in sorted(project.rglob("*")):
    print("   ", path.relative_to(project).as_posix())
