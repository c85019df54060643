"""What a python example's output must show, because the prose says so: `expect=` on a fence.

Prose that rests on an output (a number, a True or False, an order, a difference between
versions) states it as the fence's `expect=`, and the build checks every runtime's output
against it, so that a new Python that changes the result fails the build instead of
leaving the prose wrong:

    expect="True"                                  a line `True` in every output
    expect="3.10-3.13: lost 0 updates; 3.14+: /lost \\d+ updates/"
    expect="3.12: !/DeprecationWarning/"           no match in the 3.12 output

Clauses are separated by `;` (write `\\;` for a semicolon inside one). A clause is an
optional selector and a colon, then what the output must hold: a whole line (compared
without the spaces around it), `/a regular expression/` searched in the output (`^` and
`$` match at each line), or either after `!` for what the output must not hold. A
selector names runtimes as `versions=` does, comma separated: a minor version (`3.12`), a
range (`3.10-3.13`), a version and those after it (`3.12+`), `pypy`, `jython` or `all`
(the default: every runtime the block ran under). Text before a colon that is not a
selector is part of the pattern; write `all:` before a line that itself starts with a
version and a colon.

Nothing here knows about MkDocs: `plugin.py` reads the option and reports the problems.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pylive.engine import OTHER_IMPLEMENTATIONS, EngineError, Interpreter

_VERSION = r"\d+\.\d+"
_WORD = rf"(?:{_VERSION}(?:-{_VERSION}|\+)?|all|{'|'.join(OTHER_IMPLEMENTATIONS)})"
_SELECTOR = re.compile(rf"^\s*(?P<words>{_WORD}(?:\s*,\s*{_WORD})*)\s*:(?P<rest>.*)$", re.S)
SHOWN_LINES = 12  # of an output that fails an expectation, in the build's message


@dataclass(frozen=True)
class Expectation:
    """One clause: which runtimes (selector words), and what their output must (not) hold."""

    words: tuple[str, ...]
    text: str  # the clause as written, for messages
    line: str | None  # a whole line the output must have
    pattern: re.Pattern[str] | None  # or a regular expression it must match
    absent: bool  # `!`: the output must not have it

    def holds(self, output: str) -> bool:
        if self.pattern is not None:
            found = self.pattern.search(output) is not None
        else:
            found = any(line.strip() == self.line for line in output.split("\n"))
        return found != self.absent

    def selects(self, interpreter: Interpreter, site: list[str]) -> bool:
        return any(_selects(word, interpreter, site) for word in self.words)

    def names_absent(self, absent: list[str], site: list[str]) -> bool:
        """Whether it names a runtime of the site that this build lacks ("CPython 3.14", "PyPy")."""
        for name in absent:
            implementation, _, minor = name.partition(" ")
            for word in self.words:
                if word in ("all", implementation.lower()):
                    return True
                if minor and word not in OTHER_IMPLEMENTATIONS and minor in _minors(word, site):
                    return True
        return False


def _key(minor: str) -> tuple[int, ...]:
    return tuple(int(part) for part in minor.split("."))


def _selects(word: str, interpreter: Interpreter, site: list[str]) -> bool:
    if word == "all":
        return True
    if word in OTHER_IMPLEMENTATIONS:
        return interpreter.implementation.lower() == word
    if interpreter.implementation != "CPython":
        return False
    return interpreter.minor in _minors(word, site)


def _minors(word: str, site: list[str]) -> list[str]:
    """The site's CPython minors a version word names: `3.12`, `3.10-3.13`, `3.12+`."""
    if word.endswith("+"):
        return [minor for minor in site if _key(minor) >= _key(word[:-1])]
    first, _, last = word.partition("-")
    return [minor for minor in site if _key(first) <= _key(minor) <= _key(last or first)]


def parse(expect: str, site: list[str]) -> list[Expectation]:
    """The clauses of `expect=`; raises EngineError saying what is wrong with one.
    `site` lists the CPython minors of the site, which version words must name."""
    found = []
    for clause in (part.strip() for part in re.split(r"(?<!\\);", expect)):
        if not clause:
            continue
        selector = _SELECTOR.match(clause)
        words, body = (tuple(w.strip() for w in selector["words"].split(",")), selector["rest"].strip()) \
            if selector else (("all",), clause)
        for word in words:
            if word not in ("all", *OTHER_IMPLEMENTATIONS) and not _minors(word, site):
                raise EngineError(f'expect="{expect}": {word} names no version of this site ({", ".join(site)})')
        absent = body.startswith("!")
        body = body[1:].strip() if absent else body
        if not body:
            raise EngineError(f'expect="{expect}": the clause {clause!r} says nothing the output must show')
        if len(body) > 1 and body.startswith("/") and body.endswith("/"):
            try:
                pattern = re.compile(body[1:-1], re.M)
            except re.error as error:
                raise EngineError(f'expect="{expect}": /{body[1:-1]}/ is not a regular expression: {error}') from None
            found.append(Expectation(words, clause, None, pattern, absent))
        else:
            found.append(Expectation(words, clause, body.replace("\\;", ";"), None, absent))
    if not found:
        raise EngineError('expect= is empty: say what the output must show, as in expect="True"')
    return found


def problems(expectations: list[Expectation], ran: list[tuple[Interpreter, str]], chosen: list[Interpreter],
             absent: list[str], site: list[str]) -> tuple[list[str], list[str]]:
    """What the outputs contradict, and the clauses this build could not check.

    `ran` holds the outputs of the runtimes that ran the block, `chosen` every runtime of
    this machine it names (some may not have run it, for want of a need), `absent` those
    of the site the machine lacks. A clause that selects none of them names a runtime the
    block does not run, which is a mistake on the page."""
    wrong, unchecked = [], []
    for expectation in expectations:
        if not any(expectation.selects(i, site) for i in chosen) and not expectation.names_absent(absent, site):
            runs = ", ".join(i.short for i in chosen)
            wrong.append(f'expect="{expectation.text}" names a runtime this block does not run under '
                         f"(it runs {runs}): name it in versions= or correct expect=")
            continue
        outputs = [(i, output) for i, output in ran if expectation.selects(i, site)]
        if not outputs:
            unchecked.append(expectation.text)
        for interpreter, output in outputs:
            if not expectation.holds(output):
                wrong.append(f'expect="{expectation.text}" does not hold under {interpreter.label}: '
                             f"{_what(expectation)}; the output was:\n{_shown(output)}")
    return wrong, unchecked


def _what(expectation: Expectation) -> str:
    if expectation.pattern is not None:
        thing = f"/{expectation.pattern.pattern}/"
        return f"the output matches {thing}" if expectation.absent else f"nothing in the output matches {thing}"
    return (f"a line of the output is {expectation.line!r}" if expectation.absent
            else f"no line of the output is {expectation.line!r}")


def _shown(output: str) -> str:
    lines = output.rstrip("\n").split("\n")
    more = len(lines) - SHOWN_LINES
    return "\n".join("    " + line for line in lines[:SHOWN_LINES]) + (f"\n    … {more} more lines" if more > 0 else "")
