"""Drive pdb with scripted commands; print the sessions as a terminal does."""

# --8<-- [start:driver]
import os
import re
import subprocess
import sys
from pathlib import Path

Path("stats.py").write_text('''\
def mean(values):
    total = 0
    for value in values:
        total += value
    return total / len(values)


def report(groups):
    for name, values in groups.items():
        print(name, mean(values))


report({"small": [1, 2, 3], "empty": []})
''')


def session(argv, commands, **env):
    """Run `python argv`, type `commands` at its prompts, print the screen."""
    settings = "".join(f"{name}={value} " for name, value in env.items())
    print(f"$ {settings}python {' '.join(argv)}")
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith("PYTHON")}
    done = subprocess.run(
        [sys.executable, "-u", *argv],
        input="".join(command + "\n" for command in commands),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**clean, **env},
    )
    screen = done.stdout.replace(os.getcwd() + os.sep, "")  # just "stats.py"
    # A terminal echoes what you type after each prompt; a pipe does not.
    pieces = re.split(r"(\(Pdb\) |>>> )", screen)
    shown, typed = [pieces[0]], iter(commands)
    for prompt, output in zip(pieces[1::2], pieces[2::2]):
        command = next(typed, None)
        if command is None:  # the last prompt met the end of the input
            break
        shown.append(f"{prompt}{command}\n{output}")
    print("".join(shown).rstrip())
# --8<-- [end:driver]


# --8<-- [start:stepping]
session(["-m", "pdb", "stats.py"], [
    "l",               # list the source around the current line
    "b 10",            # set a breakpoint at line 10
    "c",               # continue until a breakpoint
    "p name, values",  # print an expression
    "s",               # step into the call on this line
    "n",               # next line (without entering calls)
    "w",               # where: the call stack, newest frame last
    "u",               # up one frame, to the caller
    "p name",
    "d",               # down again
    "c",               # on to the breakpoint's next hit
    "c",               # ... and on into the crash
    "p values",        # post-mortem: look at the failing frame
    "q",               # quit (before 3.13, this restarts the program...)
    "q",               # ... and a second q quits pdb
])
# --8<-- [end:stepping]


# --8<-- [start:postmortem]
session(["-m", "pdb", "-c", "continue", "stats.py"],
        ["p values", "u", "p name", "q", "q"])
print()
session(["-i", "stats.py"], ["import pdb; pdb.pm()", "p values", "q"])
# --8<-- [end:postmortem]


# --8<-- [start:breakpoint]
Path("discount.py").write_text('''\
def discounted(price, percent):
    discount = price * percent / 100
    breakpoint()
    return price - discount


print(discounted(80, 25))
''')
Path("hooks.py").write_text('''\
import sys


def report():
    frame = sys._getframe(1)
    print(f"breakpoint() in {frame.f_code.co_name}, line {frame.f_lineno}")
    print("  its local variables:", frame.f_locals)
''')

session(["discount.py"], ["p price, percent, discount", "c"])
print()
session(["discount.py"], [], PYTHONBREAKPOINT="0")
print()
session(["discount.py"], [], PYTHONBREAKPOINT="hooks.report")
# --8<-- [end:breakpoint]
