"""Draw names and the objects they refer to, as a static inline SVG, from live objects.

    from refdiagram import draw
    a = [1, 2, 3]
    b = a
    print(draw({"a": a, "b": b}, title="a and b share one list"))

`side_by_side(draw(...), draw(...))` puts drawings in a row (before and after a change).

Each name is a label with an arrow to a box for its object.  A box says the object's
type, then either its value (int, str, None...) or one slot per element (list, tuple,
set, dict, instance attributes), each slot with an arrow to the element's own box.
Objects are found by identity, so an object reached twice is drawn once and every
arrow to it converges on the same box: that is how aliasing shows.  Cycles are fine.
Boxes are laid out in columns by their distance from the names.  Dict keys are shown
inline in their slot (they are objects too, but rarely the point of a picture).

The SVG draws with `currentColor` and Material's CSS variables, so it follows the
page's light or dark scheme; it uses no font or asset from anywhere.  Standard
library only: it runs on every CPython the site shows (3.10 and later).

Run as a script, it draws a sample and checks the drawing (the snippet tests do that).
"""

from __future__ import annotations

import hashlib
import types
from dataclasses import dataclass, field
from xml.sax.saxutils import escape

__all__ = ["draw", "side_by_side"]

# Geometry, in SVG user units (px at 100 %).
CHAR = 7.8  # width of one character at FONT px in a monospace font
FONT = 13
SMALL = 11
HEAD = 20  # the type strip at the top of a box
ROW = 24  # one slot
PAD = 8
DOT = 22  # the cell of a slot that holds the dot an arrow leaves from
COL_GAP = 64
ROW_GAP = 14
MARGIN = 12
TOP = 30  # room for the column captions

ATOMS = (int, float, complex, bool, str, bytes, type(None), type(...), range)

STYLE = (
    ".refdiagram{max-width:100%;height:auto;overflow:visible}"
    ".refdiagram text{fill:currentColor;font-family:var(--md-code-font-family,ui-monospace,monospace);"
    f"font-size:{FONT}px;dominant-baseline:central}}"
    f".refdiagram .rd-small{{font-size:{SMALL}px;opacity:.75}}"
    ".refdiagram .rd-caption{font-family:var(--md-text-font-family,sans-serif);font-style:italic;opacity:.75}"
    ".refdiagram .rd-box{fill:var(--md-code-bg-color,none);stroke:currentColor;stroke-width:1.2}"
    ".refdiagram .rd-name{fill:none;stroke:currentColor;stroke-width:1;stroke-dasharray:3 2}"
    ".refdiagram .rd-line{stroke:currentColor;stroke-width:.8;opacity:.5}"
    ".refdiagram .rd-arrow{fill:none;stroke:currentColor;stroke-width:1.3;opacity:.85}"
    ".refdiagram .rd-dot,.refdiagram .rd-head{fill:currentColor}"
)


def _short(text: str, limit: int = 28) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _width(text: str) -> float:
    return len(text) * CHAR


@dataclass
class _Slot:
    label: str  # index, key or attribute name ("" for a set element)
    target: int | None = None  # id() of the element's node, or None
    text: str = ""  # shown inside the slot when there is no arrow ("…")


@dataclass
class _Node:
    key: int
    obj: object
    kind: str  # "atom" or "container"
    depth: int
    head: str = ""
    value: str = ""
    slots: list[_Slot] = field(default_factory=list)
    number: int = 0
    x: float = 0.0
    y: float = 0.0
    w: float = 0.0
    h: float = 0.0
    label_w: float = 0.0


def _type_name(obj: object) -> str:
    return type(obj).__name__


def _children(obj: object, max_items: int) -> list[tuple[str, object]] | None:
    """(label, element) pairs of a container, or None for an object drawn as a value."""
    if isinstance(obj, ATOMS):
        return None
    if isinstance(obj, (list, tuple)):
        return [(str(i), item) for i, item in enumerate(obj)]
    if isinstance(obj, (set, frozenset)):
        try:
            items = sorted(obj)
        except TypeError:
            items = list(obj)
        return [("", item) for item in items]
    if isinstance(obj, dict):
        return [(_short(repr(k), 16), v) for k, v in obj.items()]
    if isinstance(obj, (types.FunctionType, types.BuiltinFunctionType, types.ModuleType, type)):
        return None
    attrs = getattr(obj, "__dict__", None)
    if isinstance(attrs, dict):
        return list(attrs.items())
    declared = [getattr(cls, "__slots__", ()) for cls in type(obj).__mro__]
    slots = [s for names in declared for s in ((names,) if isinstance(names, str) else names)]
    if slots:
        return [(s, getattr(obj, s)) for s in slots if s not in ("__dict__", "__weakref__") and hasattr(obj, s)]
    return None


def _value_text(obj: object) -> str:
    if isinstance(obj, (types.FunctionType, types.BuiltinFunctionType, type)):
        return obj.__qualname__
    if isinstance(obj, types.ModuleType):
        return obj.__name__
    if isinstance(obj, ATOMS):
        return _short(repr(obj))
    return _short(f"at 0x{id(obj):x}")


class _Graph:
    def __init__(self, namespace: dict, max_items: int, max_depth: int) -> None:
        self.names = list(namespace.items())
        self.nodes: dict[int, _Node] = {}
        self.order: list[_Node] = []
        self.keep_alive: list[object] = []  # ids stay unique while we draw
        frontier = []
        for _, obj in self.names:
            frontier.append(self._add(obj, 1))
        while frontier:
            nxt = []
            for node in frontier:
                if node is None or node.kind != "container":
                    continue
                children = _children(node.obj, max_items) or []
                if node.depth >= max_depth:
                    node.slots = [_Slot("", None, "…")] if children else []
                    continue
                for label, child in children[:max_items]:
                    new = self._add(child, node.depth + 1)
                    node.slots.append(_Slot(label, id(child)))
                    nxt.append(new)
                if len(children) > max_items:
                    node.slots.append(_Slot("", None, f"… {len(children) - max_items} more"))
            frontier = nxt

    def _add(self, obj: object, depth: int) -> _Node | None:
        key = id(obj)
        if key in self.nodes:
            return None
        self.keep_alive.append(obj)
        kind = "atom" if _children(obj, 0) is None else "container"
        node = _Node(key, obj, kind, depth, head=_type_name(obj), number=len(self.order) + 1)
        if kind == "atom":
            node.value = _value_text(obj)
        self.nodes[key] = node
        self.order.append(node)
        return node

    def columns(self) -> list[list[_Node]]:
        depth = max((n.depth for n in self.order), default=0)
        return [[n for n in self.order if n.depth == d] for d in range(1, depth + 1)]


def _measure(node: _Node) -> None:
    head_w = _width(node.head) * SMALL / FONT + 2 * PAD
    if node.kind == "atom":
        node.w = max(head_w, _width(node.value) + 2 * PAD, 40)
        node.h = HEAD + ROW
        return
    node.label_w = max((_width(s.label) + 2 * PAD for s in node.slots if s.label), default=0)
    right = max([DOT] + [_width(s.text) + 2 * PAD for s in node.slots if s.text])
    node.w = max(head_w, node.label_w + right, 40)
    node.h = HEAD + ROW * max(len(node.slots), 1)


def _anchor(node: _Node, index: int) -> tuple[float, float]:
    """Where the arrow of slot `index` leaves from: the dot at the slot's right end."""
    return node.x + node.w - DOT / 2, node.y + HEAD + ROW * index + ROW / 2


def _curve(sx: float, sy: float, source: _Node | None, target: _Node) -> tuple[float, ...]:
    """The cubic Bezier of one reference: start, two control points, end."""
    tx, ty = target.x, target.y + HEAD / 2
    if source is target:  # a container that holds itself: loop back into its right side
        rx = target.x + target.w
        return sx, sy, rx + 46, sy, rx + 46, ty, rx + 1, ty
    if source is not None and abs(source.x - target.x) < 1:  # same column: a bracket on the right
        rx = max(source.x + source.w, target.x + target.w)
        out = rx + 30 + min(abs(ty - sy) / 5, 40)
        return sx, sy, out, sy, out, ty, target.x + target.w + 1, ty
    if tx > sx + 10:  # forward: an S-curve into the left side
        bend = max((tx - sx) / 2, 20)
        return sx, sy, sx + bend, sy, tx - bend, ty, tx - 1, ty
    # backward (the target is in a column to the left): a high arc, into the box from above
    cx, top = target.x + target.w / 2, target.y
    lift = max(min(source.y if source else sy, top) - 50, 4)
    return sx, sy, sx + 80, lift, cx, lift, cx, top - 1


def _arrow(curve: tuple[float, ...]) -> str:
    """The path of a reference and its arrowhead, drawn as a triangle (no marker, no id)."""
    sx, sy, c1x, c1y, c2x, c2y, ex, ey = curve
    dx, dy = ex - c2x, ey - c2y
    length = (dx * dx + dy * dy) ** 0.5 or 1.0
    ux, uy = dx / length, dy / length
    bx, by = ex - 8 * ux, ey - 8 * uy  # the base of the head; the line stops there
    head = f"{ex:.1f},{ey:.1f} {bx - 4 * uy:.1f},{by + 4 * ux:.1f} {bx + 4 * uy:.1f},{by - 4 * ux:.1f}"
    return (
        f'<path class="rd-arrow" d="M{sx:.1f},{sy:.1f} C{c1x:.1f},{c1y:.1f} {c2x:.1f},{c2y:.1f} {bx:.1f},{by:.1f}"/>'
        f'<polygon class="rd-head" points="{head}"/>'
    )


def _describe(graph: _Graph) -> str:
    def ref(key: int) -> str:
        node = graph.nodes[key]
        what = f"{node.head} object {node.number}"
        return f"{what} ({node.value})" if node.kind == "atom" else what

    parts = [f"name {name} refers to {ref(id(obj))}" for name, obj in graph.names]
    for node in graph.order:
        for slot in node.slots:
            if slot.target is not None:
                where = f"[{slot.label}]" if slot.label else "an element"
                parts.append(f"{node.head} object {node.number} {where} refers to {ref(slot.target)}")
    return "; ".join(parts) + "."


def draw(
    namespace: dict,
    title: str | None = None,
    *,
    max_items: int = 12,
    max_depth: int = 6,
) -> str:
    """An SVG (inside a <div>) of the names in `namespace` and the objects they refer to.

    `namespace` maps names to objects, in the order to draw them (`{"a": a, "b": b}`,
    or `globals()` filtered).  `title` names the picture for screen readers and is shown
    as a caption.  Containers show at most `max_items` slots; objects more than
    `max_depth` references away from a name are not expanded.
    """
    graph = _Graph(namespace, max_items, max_depth)
    for node in graph.order:
        _measure(node)

    name_w = max((_width(name) + 2 * PAD for name, _ in graph.names), default=40)
    top = TOP + (22 if title else 0)
    name_x = MARGIN
    name_rows = []  # (name, y of its label's center)
    y = top
    for name, _ in graph.names:
        name_rows.append((name, y + ROW / 2))
        y += ROW + ROW_GAP / 2

    # Columns left to right; each box as close as possible to the slot that first reaches it.
    x = name_x + name_w + COL_GAP
    want: dict[int, float] = {}
    for (name, cy), (_, obj) in zip(name_rows, graph.names):
        want.setdefault(id(obj), cy - HEAD / 2)
    columns = graph.columns()
    for column in columns:
        width = max(n.w for n in column)
        bottom = top
        for node in sorted(column, key=lambda n: (want.get(n.key, 0.0), n.number)):
            node.x = x
            node.y = max(want.get(node.key, top), bottom)
            bottom = node.y + node.h + ROW_GAP
            for index, slot in enumerate(node.slots):
                if slot.target is not None:
                    want.setdefault(slot.target, _anchor(node, index)[1] - HEAD / 2)
        x += width + COL_GAP

    total_w = x - COL_GAP + MARGIN + 70  # room for loops and brackets on the right
    total_h = max([top + len(name_rows) * (ROW + ROW_GAP / 2)] + [n.y + n.h for n in graph.order]) + MARGIN

    body: list[str] = []
    add = body.append
    if title:
        add(f'<text class="rd-caption" x="{MARGIN}" y="{MARGIN + 6}">{escape(title)}</text>')
    add(f'<text class="rd-small" x="{name_x}" y="{top - 14}">names</text>')
    if columns:
        add(f'<text class="rd-small" x="{name_x + name_w + COL_GAP}" y="{top - 14}">objects</text>')

    arrows: list[str] = []
    for (name, cy), (_, obj) in zip(name_rows, graph.names):
        add(f'<rect class="rd-name" x="{name_x}" y="{cy - ROW / 2 + 2}" width="{name_w}" height="{ROW - 4}" rx="4"/>')
        add(f'<text x="{name_x + PAD}" y="{cy}">{escape(name)}</text>')
        arrows.append(_arrow(_curve(name_x + name_w, cy, None, graph.nodes[id(obj)])))

    for node in graph.order:
        add(f'<g class="rd-obj" data-type="{escape(node.head)}">')
        add(f'<rect class="rd-box" x="{node.x:.1f}" y="{node.y:.1f}" width="{node.w:.1f}" height="{node.h:.1f}" rx="3"/>')
        add(f'<text class="rd-small" x="{node.x + PAD:.1f}" y="{node.y + HEAD / 2:.1f}">{escape(node.head)}</text>')
        add(f'<line class="rd-line" x1="{node.x:.1f}" y1="{node.y + HEAD:.1f}" x2="{node.x + node.w:.1f}" y2="{node.y + HEAD:.1f}"/>')
        if node.kind == "atom":
            add(f'<text x="{node.x + PAD:.1f}" y="{node.y + HEAD + ROW / 2:.1f}">{escape(node.value)}</text>')
        for index, slot in enumerate(node.slots):
            sy = node.y + HEAD + ROW * index
            if index:
                add(f'<line class="rd-line" x1="{node.x:.1f}" y1="{sy:.1f}" x2="{node.x + node.w:.1f}" y2="{sy:.1f}"/>')
            if slot.label:
                add(f'<text class="rd-small" x="{node.x + PAD:.1f}" y="{sy + ROW / 2:.1f}">{escape(slot.label)}</text>')
            if node.label_w:
                lx = node.x + node.label_w
                add(f'<line class="rd-line" x1="{lx:.1f}" y1="{sy:.1f}" x2="{lx:.1f}" y2="{sy + ROW:.1f}"/>')
            if slot.target is not None:
                ax, ay = _anchor(node, index)
                add(f'<circle class="rd-dot" cx="{ax:.1f}" cy="{ay:.1f}" r="3"/>')
                arrows.append(_arrow(_curve(ax, ay, node, graph.nodes[slot.target])))
            elif slot.text:
                add(f'<text x="{node.x + node.label_w + PAD:.1f}" y="{sy + ROW / 2:.1f}">{escape(slot.text)}</text>')
        add("</g>")

    description = _describe(graph)
    label = title or "Names and the objects they refer to"
    uid = "rd" + hashlib.sha1((label + description).encode()).hexdigest()[:10]
    head = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="refdiagram" role="img" '
        f'aria-labelledby="{uid}-t {uid}-d" width="{total_w:.0f}" height="{total_h:.0f}" '
        f'viewBox="0 0 {total_w:.0f} {total_h:.0f}">',
        f'<title id="{uid}-t">{escape(label)}</title>',
        f'<desc id="{uid}-d">{escape(description)}</desc>',
        f"<style>{STYLE}</style>",
    ]
    # One line per element and no blank line, so Markdown passes the block through untouched.
    # Focusable: on a narrow screen the figure scrolls sideways (docs/assets/site.css), by keyboard too.
    return '<div class="refdiagram-figure" tabindex="0">\n' + "\n".join(head + body + arrows + ["</svg>"]) + "\n</div>"


def side_by_side(*figures: str) -> str:
    """Put several drawings in one row (they wrap on a narrow screen): before and after."""
    inner = "\n".join(figures)
    return f'<div class="refdiagram-row" style="display:flex;flex-wrap:wrap;gap:0 2rem;align-items:flex-start">\n{inner}\n</div>'


def _check() -> None:
    """Draw a sample with aliasing and a cycle, and check what the drawing says."""
    import xml.etree.ElementTree as ET

    inner = [1, 2]
    outer = [inner, inner, "spam"]
    outer.append(outer)  # a cycle
    svg = draw({"a": outer, "b": outer, "c": inner}, title="aliasing & a cycle")
    assert svg.startswith('<div class="refdiagram-figure" tabindex="0">') and "\n\n" not in svg
    root = ET.fromstring(svg)
    ns = "{http://www.w3.org/2000/svg}"
    picture = root.find(f"{ns}svg")
    assert picture is not None and picture.get("role") == "img" and picture.get("aria-labelledby")
    assert picture.find(f"{ns}title").text == "aliasing & a cycle"
    boxes = picture.findall(f"{ns}g")
    # outer, inner, "spam", 1, 2: each drawn once however many references reach it
    assert sorted(g.get("data-type") for g in boxes) == ["int", "int", "list", "list", "str"], boxes
    arrows = [p for p in picture.findall(f"{ns}path") if p.get("class") == "rd-arrow"]
    # 3 names + 4 slots of outer + 2 slots of inner
    assert len(arrows) == 9, len(arrows)
    assert "fill:currentColor" in svg and "http" not in svg.replace("http://www.w3.org/2000/svg", "")
    both = side_by_side(svg, draw({"x": None}))
    assert ET.fromstring(both).get("class") == "refdiagram-row" and both.count("<svg") == 2
    print(f"refdiagram: drew {len(boxes)} objects and {len(arrows)} references, {len(svg)} characters of SVG")


if __name__ == "__main__":
    _check()
