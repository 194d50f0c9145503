"""The layering of ARCHITECTURE.md, checked on the source: no import cycle (lazy imports included),
no import upward, and a solver that needs neither SymPy nor torch."""
import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = {"copyhead": ROOT / "copyhead", "copyhead.theory": ROOT / "theory",
            "copyhead.numerics": ROOT / "numerics", "copyhead.verification": ROOT / "verification"}

# layer of a module (the longest matching prefix wins); a module may import only its own layer or lower
LAYERS = {
    "copyhead.io": 0,
    "copyhead.theory": 1,
    "copyhead.theory.symbolic": 2,
    "copyhead.numerics": 3,
    "copyhead.verification": 4,
    "copyhead.sweep": 4.5,  # the sweep engine: below the command line, above what it runs
    "copyhead.cli": 5,
    "copyhead": 6,  # the package's public API (copyhead/__init__.py, __main__)
}
# build-time code that run-time layers must never import
FORBIDDEN = {
    "copyhead.theory": ("copyhead.theory.symbolic", "sympy", "torch"),
    "copyhead.numerics": ("copyhead.theory.symbolic", "sympy", "torch"),
}


def _modules():
    """``{module name: path}`` of every module of the installed namespace (by source layout)."""
    out = {}
    for pkg, folder in PACKAGES.items():
        for f in folder.rglob("*.py"):
            rel = f.relative_to(folder).with_suffix("")
            parts = [p for p in rel.parts if p != "__init__"]
            name = ".".join([pkg] + parts)
            if pkg == "copyhead" and parts and parts[0] in ("theory", "numerics", "verification"):
                continue
            out[name] = f
    return out


def _imports(name: str, path: Path, known: set):
    """Every module imported anywhere in the file (function-level lazy imports included)."""
    is_pkg = path.name == "__init__.py"
    base = name.split(".") if is_pkg else name.split(".")[:-1]
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                yield a.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                mod = ".".join(base[: len(base) - node.level + 1] + ([node.module] if node.module else []))
            else:
                mod = node.module
            for a in node.names:
                sub = f"{mod}.{a.name}"
                yield sub if sub in known else mod


def _layer(mod: str):
    best = None
    for prefix, lay in LAYERS.items():
        if mod == prefix or mod.startswith(prefix + "."):
            if best is None or len(prefix) > len(best[0]):
                best = (prefix, lay)
    return best


def _graph():
    mods = _modules()
    known = set(mods)
    return {m: {i for i in _imports(m, p, known) if i in known and i != m} for m, p in mods.items()}, mods


def test_no_import_cycle():
    graph, _ = _graph()
    index, low, stack, on, sccs, counter = {}, {}, [], set(), [], [0]

    def strong(v):  # Tarjan
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                sccs.append(sorted(comp))

    for v in graph:
        if v not in index:
            strong(v)
    assert not sccs, f"import cycles: {sccs}"


def test_no_upward_imports():
    graph, mods = _graph()
    bad = []
    for m, deps in graph.items():
        lm = _layer(m)[1]
        for d in deps:
            ld = _layer(d)[1]
            if ld > lm:
                bad.append(f"{m} (layer {lm}) imports {d} (layer {ld})")
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_runtime_layers_do_not_import_build_time_code(layer):
    _, mods = _graph()
    bad = []
    for m, p in mods.items():
        if _layer(m)[0] != layer:
            continue
        for i in _imports(m, p, set(mods)):
            if any(i == f or i.startswith(f + ".") for f in FORBIDDEN[layer]):
                bad.append(f"{m} imports {i}")
    assert not bad, "\n".join(bad)


def test_solver_imports_neither_sympy_nor_torch():
    """In a fresh interpreter, solving a model loads neither SymPy nor torch."""
    code = ("import sys\nfrom copyhead import Model, solve\nsolve(Model(attention='linear'))\n"
            "bad = [m for m in ('sympy', 'torch') if m in sys.modules]\nprint(','.join(bad))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "", f"the solver imported {out.stdout.strip()}"


def test_nothing_else_installed_at_top_level():
    """Only the ``copyhead`` namespace is installed: the old top-level names are not importable
    from outside the checkout."""
    code = ("import importlib.util, sys\n"
            "print([n for n in ('theory', 'numerics', 'verification') if importlib.util.find_spec(n)])\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd="/", timeout=60)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
