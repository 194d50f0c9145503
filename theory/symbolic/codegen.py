"""Code generator: SymPy reduced free energies -> Numba kernels in ``numerics/_kernels.py``.

Run ``copyhead codegen`` or ``python -m copyhead.theory.symbolic.codegen`` to regenerate;
``python -m copyhead.theory.symbolic.codegen --check`` exits 1 if the checked-in module is stale.

For every key ``attention_prior_objective`` the generated module holds

* ``<key>(x, alpha, T, nu, sigma2, kappa) -> (F, F_x, F_xx, F_xxx, F_xa, F_xxa)``: the reduced free
  energy of :func:`copyhead.theory.symbolic.reduced.reduced_free_energy` and the derivatives the continuation and
  fold refinement need (``_a`` = d/d alpha), printed with common-subexpression elimination by
  SymPy's ``PythonCodePrinter`` (``math.*``; Numba compiles it, see TOOLING.md);
* ``<key>_grid(xs, alphas, T, nu, sigma2, kappa) -> (len(alphas), len(xs), 3)`` array of
  ``(F, F_x, F_xx)`` on a grid, parallel over alpha (``numba.prange``).

All kernel arguments must be floats (integer arguments overflow silently inside Numba).
"""
from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

import sympy as sp
from sympy.printing.pycode import PythonCodePrinter

from .reduced import KEYS, reduced_free_energy, variable
from .symbols import Sg, T, alpha, kappa, nu, sigma2

OUTPUT = Path(__file__).resolve().parent.parent.parent / "numerics" / "_kernels.py"
NAMES = ("F", "F_x", "F_xx", "F_xxx", "F_xa", "F_xxa")


def kernel_expressions(key: str):
    """The six expressions ``(F, F_x, F_xx, F_xxx, F_xa, F_xxa)`` for a key, and the variable."""
    attention, prior, objective = key.split("_")
    F = reduced_free_energy(attention, prior, objective)
    x = variable(attention)
    Fx = sp.diff(F, x)
    Fxx = sp.diff(Fx, x)
    Fxxx = sp.diff(Fxx, x)
    Fxa = sp.diff(Fx, alpha)
    Fxxa = sp.diff(Fxx, alpha)
    return (F, Fx, Fxx, Fxxx, Fxa, Fxxa), x


class _Printer(PythonCodePrinter):
    def _print_Symbol(self, expr):
        return {"lambda": "lam"}.get(expr.name, expr.name)


def _scalar_source(name: str, exprs, x, doc: str, fastmath: bool = False) -> list:
    """An njit function of (x, alpha, T, nu, sigma2, kappa) returning the tuple of ``exprs`` (cse'd).

    ``fastmath`` is off for all generated kernels: it assumes no inf/NaN, while the domain
    edges (``1/sqrt(u)`` at ``u = 0`` for MAP) rely on IEEE inf semantics.
    """
    exprs = [e.xreplace({x: sp.Symbol("x")}) for e in exprs]
    subexprs, reduced = sp.cse(exprs, symbols=sp.numbered_symbols("t"), optimizations="basic")
    pr = _Printer({"fully_qualified_modules": True, "standard": "python3"})
    fm = ", fastmath=True" if fastmath else ""
    lines = [
        f"@numba.njit(cache=True, error_model=\"numpy\"{fm})",
        f"def {name}(x, alpha, T, nu, sigma2, kappa):",
        f'    """{doc}"""',
    ]
    if any(e.has(Sg) for e in exprs):
        lines.append("    Sg = 1.0 if x >= 0.0 else -1.0  # sign(x) of the nuclear norm |x|")
    for sym, sub in subexprs:
        lines.append(f"    {sym} = {pr.doprint(sub)}")
    outs = ", ".join(pr.doprint(e) for e in reduced)
    lines.append(f"    return ({outs})")
    return lines


def _function_source(key: str) -> str:
    exprs, x = kernel_expressions(key)
    lines = _scalar_source(key, exprs, x, f"{key}: (F, F_x, F_xx, F_xxx, F_xa, F_xxa) at x = {x} (generated).")
    lines += ["", ""]
    lines += _scalar_source(f"_{key}_012", exprs[:3], x, f"{key}: (F, F_x, F_xx) only, for grids (generated).")
    lines += [
        "",
        "",
        "@numba.njit(cache=True, parallel=True, error_model=\"numpy\")",
        f"def {key}_grid(xs, alphas, T, nu, sigma2, kappa):",
        f'    """(F, F_x, F_xx) of {key} on the grid alphas x xs (generated; parallel over all points)."""',
        "    nx = xs.size",
        "    out = np.empty((alphas.size, nx, 3))",
        "    for k in numba.prange(alphas.size * nx):",
        "        i = k // nx",
        "        j = k - i * nx",
        f"        v = _{key}_012(xs[j], alphas[i], T, nu, sigma2, kappa)",
        "        out[i, j, 0] = v[0]",
        "        out[i, j, 1] = v[1]",
        "        out[i, j, 2] = v[2]",
        "    return out",
    ]
    return "\n".join(lines)


def generate_source() -> str:
    """Full text of the generated module (deterministic for a given SymPy version)."""
    bodies = [_function_source(k) for k in KEYS]
    digest = hashlib.sha256(
        "".join(sp.srepr(e) for k in KEYS for e in kernel_expressions(k)[0]).encode()
    ).hexdigest()[:16]
    head = [
        "# GENERATED FILE -- DO NOT EDIT.",
        "# Written by `copyhead codegen` (python -m copyhead.theory.symbolic.codegen) from theory/symbolic/reduced.py",
        f"# (SymPy {sp.__version__}; expression digest {digest}).",
        "# Each kernel returns (F, F_x, F_xx, F_xxx, F_xa, F_xxa) of the reduced free energy per V^2;",
        "# x = u = m^2 for linear attention, x = s for softmax attention (see theory/reduced.py).",
        "import math",
        "",
        "import numba",
        "import numpy as np",
        "",
    ]
    registry = ["", "", "KERNELS = {"]
    registry += [f"    {k!r}: ({k}, {k}_grid)," for k in KEYS]
    registry += ["}", ""]
    return "\n".join(head) + "\n\n" + "\n\n\n".join(bodies) + "\n".join(registry)


def write(path: Path = OUTPUT) -> Path:
    from copyhead.io import atomic_write

    text = generate_source()
    return atomic_write(path, lambda f: f.write(text), "w")


def is_stale(path: Path = OUTPUT) -> bool:
    path = Path(path)
    return not path.exists() or path.read_text() != generate_source()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="copyhead codegen", description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="exit 1 if the generated module is stale")
    ap.add_argument("--output", default=str(OUTPUT), help="path of the generated module")
    args = ap.parse_args(argv)
    if args.check:
        stale = is_stale(Path(args.output))
        print(f"{args.output}: {'STALE (run copyhead codegen)' if stale else 'up to date'}")
        return 1 if stale else 0
    p = write(Path(args.output))
    print(f"wrote {p}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
