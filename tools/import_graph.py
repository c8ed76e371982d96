"""Draw who imports whom inside vae_helpers, from the package's own import statements.

Usage: python tools/import_graph.py [--check]

Writes docs/import_graph.svg (a layered picture: a module sits one layer above the highest module it
imports, so arrows only point down) and the same graph as text in CONTRIBUTING.md, between
<!-- import-graph:start --> and <!-- import-graph:end -->. --check changes nothing and exits 1 if
either is out of date or the package has an import cycle (the tests run it).
"""
from __future__ import annotations

import ast
import hashlib
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "vae_helpers"
CONTRIBUTING = ROOT / "CONTRIBUTING.md"
SVG = ROOT / "docs" / "import_graph.svg"
START, END = "<!-- import-graph:start -->", "<!-- import-graph:end -->"


def imports() -> dict[str, set[str]]:
    """Module -> the package modules it imports (relative imports only; __init__ left out)."""
    modules = {p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__"}
    graph = {}
    for name in sorted(modules):
        tree = ast.parse((PACKAGE / f"{name}.py").read_text(encoding="utf-8"))
        found = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                found |= {node.module} if node.module else {a.name for a in node.names}
        graph[name] = found & modules
    return graph


def layers(graph: dict[str, set[str]]) -> dict[str, int]:
    """Layer of each module: 0 if it imports none of the package, else 1 + the highest layer it imports."""
    layer: dict[str, int] = {}

    def visit(name: str, path: tuple[str, ...]) -> int:
        if name in path:
            raise SystemExit(f"import cycle: {' -> '.join(path[path.index(name):] + (name,))}")
        if name not in layer:
            layer[name] = 1 + max((visit(d, path + (name,)) for d in graph[name]), default=-1)
        return layer[name]

    for name in graph:
        visit(name, ())
    return layer


def as_text(graph: dict[str, set[str]]) -> str:
    """The graph as markdown: one line per layer, top first, each module with what it imports."""
    layer = layers(graph)
    lines = [f"![Who imports whom in vae_helpers: arrows point from a module to the modules it imports]"
             f"({SVG.relative_to(ROOT).as_posix()})", ""]
    for level in range(max(layer.values()), -1, -1):
        names = sorted(n for n in graph if layer[n] == level)
        parts = [f"`{n}`" + (f" → {', '.join(sorted(graph[n]))}" if graph[n] else "") for n in names]
        lines.append(f"- layer {level}: " + "; ".join(parts))
    return "\n".join(lines)


def digest(graph: dict[str, set[str]]) -> str:
    """12 hex digits naming this exact graph (written into the SVG, so a stale picture is detected)."""
    return hashlib.sha256(repr(sorted((k, sorted(v)) for k, v in graph.items())).encode()).hexdigest()[:12]


def draw(graph: dict[str, set[str]], path: Path) -> None:
    """A layered SVG: modules as boxes, one row per layer, arrows from importer down to imported."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    plt.rcParams["svg.fonttype"] = "none"     # text stays text: searchable, and the graph's digest is readable

    layer = layers(graph)
    rows: dict[int, list[str]] = {}
    for level in range(max(layer.values()) + 1):   # order each row by where its imports sit (fewer crossings)
        names = sorted(n for n in graph if layer[n] == level)
        if level:
            x_of = {n: pos_x for r in rows.values() for pos_x, n in _spread(r, width_so_far(rows))}
            names.sort(key=lambda n: (sum(x_of[d] for d in graph[n]) / max(len(graph[n]), 1), n))
        rows[level] = names
    width = width_so_far(rows)
    pos = {n: (x, level) for level, r in rows.items() for x, n in _spread(r, width)}
    fig, ax = plt.subplots(figsize=(1.6 * width, 1.1 * len(rows) + 0.6))
    for name, deps in graph.items():
        for dep in deps:
            ax.annotate("", xy=pos[dep], xytext=pos[name], arrowprops=dict(
                arrowstyle="-|>", color="#5a6b7b", lw=0.7, alpha=0.6, shrinkA=11, shrinkB=11))
    for name, (x, y) in pos.items():
        ax.text(x, y, name, ha="center", va="center", fontsize=9, family="monospace",
                bbox=dict(boxstyle="round,pad=0.3", fc="#eef3f8", ec="#2c4a66"))
    ax.set(xlim=(0, width), ylim=(-0.6, len(rows) - 0.4), yticks=range(len(rows)),
           yticklabels=[f"layer {i}" for i in range(len(rows))], xticks=[])
    for side in ("top", "right", "bottom"):
        ax.spines[side].set_visible(False)
    ax.set_title(f"vae_helpers: who imports whom (arrows point to the imported module; graph {digest(graph)})",
                 fontsize=10)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)


def _spread(row: list[str], width: int) -> list[tuple[float, str]]:
    """Each module of a row with its x position, the row spread evenly over `width`."""
    return [((i + 0.5) * width / len(row), n) for i, n in enumerate(row)]


def width_so_far(rows: dict[int, list[str]]) -> int:
    """The widest row placed so far."""
    return max(len(r) for r in rows.values())


def main(check: bool) -> int:
    graph = imports()
    text = CONTRIBUTING.read_text(encoding="utf-8")
    if START not in text or END not in text:
        raise SystemExit(f"{CONTRIBUTING.name} needs the markers {START} and {END}.")
    head, rest = text.split(START, 1)
    updated = f"{head}{START}\n{as_text(graph)}\n{END}{rest.split(END, 1)[1]}"
    svg_current = SVG.is_file() and f"graph {digest(graph)}" in SVG.read_text(encoding="utf-8")
    if check:
        stale = [str(p.relative_to(ROOT)) for p, ok in ((CONTRIBUTING, updated == text), (SVG, svg_current)) if not ok]
        if stale:
            print(f"out of date: {', '.join(stale)}; run python tools/import_graph.py")
            return 1
        return 0
    CONTRIBUTING.write_text(updated, encoding="utf-8")
    draw(graph, SVG)
    print(f"wrote {SVG.relative_to(ROOT)} and the graph in {CONTRIBUTING.name} ({len(graph)} modules)")
    return 0


if __name__ == "__main__":
    sys.exit(main("--check" in sys.argv[1:]))
