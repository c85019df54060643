"""Time statements with the standard `timeit` module, inside the interpreter being measured.

Run by the engine as `python timing_driver.py FD` under the interpreter whose speed
the page shows, so it uses the standard library only and runs on every CPython from 3.8
on. The plan comes as JSON on stdin:

    {"setup": "...", "statements": [["label", "code"], ...],
     "budget": seconds per statement, "repeat": 5, "number": null or loops per repeat,
     "numbers": null, or the loops per repeat of each statement (a second measurement
                takes the first's, so that the two can be read as one)}

The setup is written to `pylive_setup.py` in the working folder and imported once, so
that what it defines lives in a real module: functions handed to a process pool can be
pickled by name, as in a program. Its names are then imported into each timed function
(`from pylive_setup import data, f`), so a statement reads them as fast locals, exactly
as `python -m timeit -s "data = ..."` would.

The results (one entry per statement, then the machine's stamp) are written as
JSON to the file descriptor FD, a pipe the engine reads outside the working folder (a
statement or setup cannot overwrite them). A statement's own prints go to stdout, which the engine keeps for error reports.
"""

import json
import os
import platform
import sys
import sysconfig
import time
import timeit

SETUP_MODULE = "pylive_setup"


class _Enough(Exception):
    """Raised from autorange's callback once a trial is long enough for this budget."""

    def __init__(self, number, seconds):
        Exception.__init__(self)
        self.number = number
        self.seconds = seconds


def cpu_model():
    """The CPU's marketing name: /proc/cpuinfo on Linux, platform.processor() elsewhere."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as info:
            for line in info:
                key, _, value = line.partition(":")
                if key.strip() in ("model name", "Model", "Hardware", "cpu model") and value.strip():
                    return value.strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def compiled():
    """How this CPython was compiled, which changes its speed as much as a new version can:
    profile-guided (PGO) and link-time (LTO) optimization, as its ./configure was told or
    as its compiler flags show (a distribution may pass them without the configure option).
    Empty for other implementations, which are not built this way."""
    if platform.python_implementation() != "CPython":
        return ""
    args = sysconfig.get_config_var("CONFIG_ARGS") or ""
    flags = " ".join(str(sysconfig.get_config_var(name) or "")
                     for name in ("PY_CFLAGS", "PY_CFLAGS_NODIST", "PY_LDFLAGS_NODIST", "CONFIGURE_CFLAGS_NODIST"))
    pgo = "--enable-optimizations" in args or "-fprofile-use" in flags or "-fprofile-instr-use" in flags
    lto = "--with-lto" in args or "-flto" in flags
    done = [name for name, on in (("PGO", pgo), ("LTO", lto)) if on]
    return " + ".join(done) if done else "no PGO or LTO"


def stamp():
    """Where and when the figures were measured."""
    return {
        "python": platform.python_implementation() + " " + platform.python_version(),
        "compiled": compiled(),
        "platform": platform.platform(),
        "cpu": cpu_model(),
        "cores": os.cpu_count() or 1,
        # Other programs competing for the cores make every figure slower and noisier.
        "load": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }


def calibrate(timer, target):
    """Loops per repeat so that a repeat lasts about `target` seconds, and the seconds per
    loop they were computed from.

    Timer.autorange runs 1, 2, 5, 10, 20, 50... loops; it is stopped as soon as a trial
    lasts `target` seconds instead of its fixed 0.2 s, so that a block keeps to its budget.
    The rate is the fastest of the trials long enough to be read (10 µs), because on a busy
    machine any one trial, the last one too, may have been paused for another program.
    That is done twice: a pause of a few ms (a time slice given to another program) during
    the very first trial, a single loop, makes that trial the last, and one loop per repeat
    would then measure the timer more than the statement.
    """
    readable = []
    for _ in range(2):
        trials = []

        def enough(number, seconds):
            trials.append((number, seconds))
            if seconds >= target:
                raise _Enough(number, seconds)

        try:
            timer.autorange(enough)
        except _Enough:
            pass
        readable += [seconds / number for number, seconds in trials if seconds >= 1e-5] or [trials[-1][1] / trials[-1][0]]
    per_loop = min(readable)
    return max(1, int(target / per_loop)), per_loop


# A repeat lasts at most this long: on a busy machine a short repeat has a fair chance of
# running without another program taking the core, so the fastest repeat is a clean one.
SLICE = 0.002
MOST_REPEATS = 200


def measure(timers, budget, repeat, number, given=None):
    """Loops per repeat and per-loop times (one per repeat) of each timer, within
    `budget` seconds per timer.

    Every timer gets `repeat` repeats whatever the budget; a fast one gets as many more
    as the budget allows. Each repeat is short (see SLICE): at most budget / (repeat + 3),
    since calibration takes about two repeats' time. The repeats are interleaved
    (a1 b1 c1 a2 b2 c2...), so that a burst of load on the machine slows every statement
    alike.

    With `number` (whole programs), each runs `number` times per repeat, exactly `repeat`
    times. `given` fixes the loops per repeat of each timer instead of calibrating them.
    """
    started = time.perf_counter()
    total = budget * len(timers)
    numbers, expected = [], []
    target = min(budget / (repeat + 3), SLICE)
    for index, timer in enumerate(timers):
        if number:
            numbers.append(number)
            expected.append(0.0)
        elif given:
            numbers.append(given[index])
            expected.append(timer.timeit(given[index]))  # a trial run, as calibration makes
        else:
            loops, per_loop = calibrate(timer, target)
            numbers.append(loops)
            expected.append(loops * per_loop)
    times = [[] for _ in timers]
    most = repeat if number else MOST_REPEATS
    progressed = True
    while progressed:
        progressed = False
        for index, timer in enumerate(timers):
            done = times[index]
            within = time.perf_counter() - started + expected[index] <= total
            if len(done) < repeat or (len(done) < most and within):
                seconds = timer.timeit(numbers[index])
                done.append(seconds / numbers[index])
                progressed = True
    return numbers, times


def main():
    plan = json.load(sys.stdin)
    workdir = os.getcwd()
    with open(os.path.join(workdir, SETUP_MODULE + ".py"), "w", encoding="utf-8") as module:
        module.write(plan["setup"] + "\n")
    sys.path.insert(0, workdir)
    names = sorted(n for n in vars(__import__(SETUP_MODULE)) if not (n.startswith("__") and n.endswith("__")))
    bring = "from %s import %s" % (SETUP_MODULE, ", ".join(names)) if names else "pass"
    timers = [timeit.Timer(code, setup=bring, timer=time.perf_counter) for _, code in plan["statements"]]
    started = time.perf_counter()
    numbers, times = measure(timers, plan["budget"], plan["repeat"], plan["number"], plan.get("numbers"))
    elapsed = time.perf_counter() - started
    results = [
        {"label": label, "number": n, "times": t} for (label, _), n, t in zip(plan["statements"], numbers, times)
    ]
    with open(int(sys.argv[1]), "w", encoding="utf-8") as out:
        json.dump({"results": results, "stamp": stamp(), "elapsed": elapsed}, out)


if __name__ == "__main__":
    main()
