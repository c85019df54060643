# Run an example inside CPython on WebAssembly as `python -u example.py` would, and a
# transcript as `python -u repl_driver.py RESULTS` would.
#
# Loaded into a Pyodide runtime once, before its memory snapshot is taken, by the build's
# Node host (wasm_host.mjs) and by the reader's browser (docs/assets/live/worker.js): both
# then call `_pylive_script(code, files)` or `_pylive_transcript(driver, files)` in a fresh
# instance restored from that snapshot, so a page's example and the reader's run of it run
# the same way. Standard library only.
#
# (Comments, not a docstring: running this file must not change what __main__ holds.)

def _pylive_prepare():
    import builtins
    import importlib.machinery
    import os
    import sys
    import types

    def run_main(path, argv, code=None):
        """Run the file at path as __main__; return the exit code CPython would."""
        if code is None:
            with open(path, encoding="utf-8") as f:
                code = f.read()
        folder = os.path.dirname(path)
        sys.argv = list(argv)
        sys.path.insert(0, folder)
        main = types.ModuleType("__main__")
        main.__file__ = path
        main.__cached__ = None
        main.__builtins__ = builtins
        main.__loader__ = importlib.machinery.SourceFileLoader("__main__", path)
        sys.modules["__main__"] = main
        try:
            exec(compile(code, path, "exec", dont_inherit=True), main.__dict__)
            status = 0
        except SystemExit as error:
            status = error.code
            if status is None:
                status = 0
            elif not isinstance(status, int):
                try:
                    sys.stderr.write(str(status) + "\n")
                except Exception:
                    pass
                status = 1
        except BaseException as error:
            # Drop this function's own frame: the traceback starts in the example.
            sys.excepthook(type(error), error, error.__traceback__.tb_next)
            status = 1
        import atexit
        atexit._run_exitfuncs()
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:
                pass
        return status & 0xFF if status >= 0 else status

    def start(files):
        """A fresh working folder like tempfile's; the helper files in a folder of their
        own, placed on sys.path where PYTHONPATH entries go."""
        import tempfile
        for name in ("PYTHONINSPECT", "_"):  # set by the runtime itself, not by Python
            os.environ.pop(name, None)
        # `random` was seeded when the runtime loaded it, before the memory snapshot: every
        # instance restored from it would draw the same numbers. A new process seeds it
        # from the operating system; so does this.
        if "random" in sys.modules:
            sys.modules["random"].seed()
        sys.path[:] = [entry for entry in sys.path if entry not in ("", "/home/pyodide")]
        if files:
            helpers = tempfile.mkdtemp(prefix="pylive-helpers-")
            for relative, text in files.items():
                target = os.path.normpath(os.path.join(helpers, relative))
                if not target.startswith(helpers + os.sep):
                    raise ValueError(f"helper file outside its folder: {relative!r}")
                os.makedirs(os.path.dirname(target), exist_ok=True)
                with open(target, "w", encoding="utf-8") as f:
                    f.write(text)
            sys.path.insert(0, helpers)
        workdir = tempfile.mkdtemp(prefix="pylive-")
        os.chdir(workdir)
        for stream in (sys.stdout, sys.stderr):  # python -u
            stream.reconfigure(write_through=True)
        return workdir

    def script(code, files):
        workdir = start(files)
        path = os.path.join(workdir, "example.py")
        with open(path, "w", encoding="utf-8") as f:
            f.write(code)
        return run_main(path, ["example.py"], code)

    def transcript(driver, files):
        start(files)
        folder = "/tmp/pylive-driver"
        os.makedirs(folder, exist_ok=True)
        path = os.path.join(folder, "repl_driver.py")
        with open(path, "w", encoding="utf-8") as f:
            f.write(driver)
        # The driver reports to a file descriptor, as the native runtimes give it a pipe.
        results = os.open("/dev/pylive-results", os.O_WRONLY)
        return run_main(path, [path, str(results)])

    return script, transcript

_pylive_script, _pylive_transcript = _pylive_prepare()
del _pylive_prepare
