"""Type statements into an interactive console, as a reader would at the `>>>` prompt.

Run by the engine as `python repl_driver.py FD` under the interpreter being shown,
so it uses the standard library only and runs on every CPython from 3.8 on. The
statements come as a JSON list on stdin; after each one, the text it printed (its
echoed value, its print calls, its traceback) is written as a JSON line to the file
descriptor FD, a pipe the engine reads outside the example's folder, so a statement that
hangs still leaves the earlier results behind.
"""

import code
import contextlib
import io
import json
import sys


def main() -> None:
    statements = json.load(sys.stdin)
    console = code.InteractiveConsole(locals={"__name__": "__main__", "__doc__": None}, filename="<stdin>")
    with open(int(sys.argv[1]), "w", encoding="utf-8") as results:
        for source in statements:
            written = io.StringIO()
            with contextlib.redirect_stdout(written), contextlib.redirect_stderr(written):
                more = False
                for line in source.rstrip("\n").split("\n"):
                    more = console.push(line)
                if more:  # a compound statement ends with an empty line at the prompt
                    console.push("")
            results.write(json.dumps(written.getvalue()) + "\n")
            results.flush()


if __name__ == "__main__":
    main()
