"""Regenerate tests/golden/finite_size.json: the finite-V numbers of the default softmax model
(T = 8, nu = 0.5, sigma2 = 0.1, kappa = 1, qk prior, posterior) at V = 8, 12, 16, 24, 32, from a
computation written here independently of ``copyhead.numerics.finite_size.FiniteSizeTheory``.

Usage:  python tests/golden/regenerate_finite_size.py [--check] [--compare]

* ``--check`` recomputes everything and exits 1 if the committed fixture differs (relative 1e-9);
* ``--compare`` also prints FiniteSizeTheory's values next to the golden ones (what the tests do).

Independent source (nothing below calls FiniteSizeTheory, the generated kernels, the continuation
solver or ``copyhead.theory.finite_size``):

* ``F_V(s) = nu J(s) - e(m, r) - e1(A)/V`` on the symmetric ansatz ``S = s (J - 11^T/T)``
  (THEORY.md §3-4): the rate ``j``, the energy ``e`` and the ``O(V)`` checkpoint ``e1(A)`` are
  typed in below from THEORY.md, with ``e1`` evaluated on the explicit ``T x T`` matrix
  ``A = softmax_row(S)`` (``B = A^T A``, row sums, ``tr(J^T A A^T A)``); realised sizes
  ``N = round(nu V^2)``, ``nu -> N/V^2`` (alpha continuous, as for a theory curve);
* derivatives in ``s`` by complex steps (exact to rounding; every operation is analytic);
* spinodals: the fold conditions ``F_V' = F_V'' = 0`` as roots in alpha of the extreme value of
  ``F_V'`` between the branches (the dip of ``F_V'`` touching 0 from above: the copy minimum
  appears; its hump touching 0 from above: the disordered minimum disappears); ``brentq`` to 1e-11;
* coexistence: equal ``F_V`` at the two minima (minima: zeros of ``F_V'``, ``brentq``); ``brentq`` in alpha;
* one-loop ``alpha_c(V)`` (V = 8, 16, 24): ``log Z_b = -V^2 F_V(S_b) + log f(S_b) - 1/2 log det(V^2 H_b)``
  at both basin minima (eq. S1 of ``theory/one_loop_softmax.py``), with ``H_b`` the full
  ``T^2 x T^2`` Hessian of ``F_V(S)`` over all scores (rate from the singular values, ``e1`` on
  the explicit ``A``) by central second differences of values (h = 1e-3), at the ansatz minima
  (exact stationary points over all ``T^2`` scores; the script checks the full gradient there). The
  only shared piece is the qk Wishart prefactor ``log f`` (``copyhead.theory.one_loop.qk_log_prefactor``).
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np
from scipy.optimize import brentq, minimize_scalar

HERE = Path(__file__).resolve().parent
FIXTURE = HERE / "finite_size.json"
MODEL = {"T": 8, "nu": 0.5, "sigma2": 0.1, "kappa": 1.0, "attention": "softmax", "prior": "qk",
         "objective": "posterior"}
VS = (8, 12, 16, 24, 32)
VS_ONE_LOOP = (8, 16, 24)
S_GRID = np.linspace(-2.0, 8.0, 20001)  # ds = 5e-4
H_CS = 1e-30  # complex step
SRC = ("brute force (tests/golden/regenerate_finite_size.py): F - e1/V typed in from THEORY.md §3-4 "
       "(e1 on the explicit A), complex-step derivatives on a 20001-point s grid, brentq")


# --------------------------------------------------------------------------- F_V, written from THEORY.md
def shift(T):
    J = np.zeros((T, T))
    J[np.arange(T), (np.arange(T) - 1) % T] = 1.0  # J_{t,t-1} = 1
    return J


def rate_qk(s):
    """``j(s) = a - 1 - 1/2 log a``, ``a = (1 + sqrt(1 + 4 s^2))/2`` (analytic: works on complex s)."""
    a = 0.5 * (1.0 + np.sqrt(1.0 + 4.0 * s * s))
    return a - 1.0 - 0.5 * np.log(a)


def energy(m, r, alpha, sigma2):
    """``e(m, r) = -1/2 log(1 + g r) - (alpha/2)(1 + g(r - m^2))/(1 + g r)``."""
    g = sigma2 * alpha
    return -0.5 * np.log(1.0 + g * r) - 0.5 * alpha * (1.0 + g * (r - m * m)) / (1.0 + g * r)


def e1_checkpoint(A, alpha, sigma2, kappa):
    """THEORY.md §3 checkpoint ``e1(A)`` for a stack ``A (..., T, T)`` (no conjugation: complex-step safe)."""
    T = A.shape[-1]
    g = sigma2 * alpha
    J = shift(T)
    At = np.swapaxes(A, -1, -2)
    m = (A * J).sum(axis=(-2, -1)) / T
    r = (A * A).sum(axis=(-2, -1)) / T
    a = A.sum(axis=-1)
    ab, ab2 = a.mean(axis=-1), (a * a).mean(axis=-1)
    B = At @ A
    B2 = (B * B).sum(axis=(-2, -1))
    trJAAA = np.trace(J.T @ A @ At @ A, axis1=-2, axis2=-1)
    q = 1.0 + g * r
    return (0.5 * np.log(q) - 0.5 * alpha * g * m * m / q - 0.5 * np.log(1.0 + g * ab2)
            + 0.5 * alpha * g * ab * ab / (1.0 + g * ab2)
            + (g * g * B2 / (4.0 * alpha * T * q * q) + g * r / (2.0 * q) - g * g * m * trJAAA / (T * q * q)
               + g ** 3 * m * m * B2 / (2.0 * T * q ** 3)) / kappa)


def softmax_rows(S):
    Z = np.exp(S - S.real.max(axis=-1, keepdims=True))
    return Z / Z.sum(axis=-1, keepdims=True)


class Golden:
    """``F_V`` of the default softmax model at one V (realised nu)."""

    def __init__(self, V: int):
        self.V = V
        self.T, self.sigma2, self.kappa = MODEL["T"], MODEL["sigma2"], MODEL["kappa"]
        self.N = max(1, int(round(MODEL["nu"] * V * V)))
        self.nu = self.N / (V * V)
        self.Jc = shift(self.T) - np.ones((self.T, self.T)) / self.T

    def F(self, s, alpha):
        """``F_V`` on the ansatz (``s`` real or complex, any shape)."""
        s = np.asarray(s)
        T = self.T
        A = softmax_rows(s[..., None, None] * self.Jc)
        m = np.exp(s) / (np.exp(s) + T - 1)
        r = m * m + (1 - m) ** 2 / (T - 1)
        return (self.nu * (T - 1) * rate_qk(s) - energy(m, r, alpha, self.sigma2)
                - e1_checkpoint(A, alpha, self.sigma2, self.kappa) / self.V)

    def dF(self, s, alpha):
        """``dF_V/ds`` by a complex step."""
        return np.imag(self.F(np.asarray(s, float) + 1j * H_CS, alpha)) / H_CS

    def m_of_s(self, s):
        return float(math.exp(s) / (math.exp(s) + self.T - 1))

    # ---------------------------------------------------------------- stationary points
    def stationary(self, alpha):
        """Zeros of ``F_V'`` on the s grid, refined: list of ``(s, kind)`` with kind min / max."""
        d = self.dF(S_GRID, alpha)
        out = []
        for i in np.nonzero(np.sign(d[:-1]) != np.sign(d[1:]))[0]:
            s = brentq(lambda x: float(self.dF(x, alpha)), S_GRID[i], S_GRID[i + 1], xtol=1e-14)
            out.append((s, "min" if d[i] < 0 else "max"))
        return out

    def minima(self, alpha):
        return [s for s, k in self.stationary(alpha) if k == "min"]

    def _extremum_of_dF(self, alpha, kind: str):
        """The dip (``kind="dip"``: local minimum of ``F_V'`` after the disordered minimum) or the hump
        (local maximum of ``F_V'`` before the copy minimum): the fold function, 0 at a spinodal."""
        d = self.dF(S_GRID, alpha)
        sign = 1.0 if kind == "dip" else -1.0
        e = sign * d
        idx = np.nonzero((e[1:-1] < e[:-2]) & (e[1:-1] <= e[2:]))[0] + 1
        if len(idx) != 1:
            raise RuntimeError(f"V={self.V} alpha={alpha}: {len(idx)} local {kind}s of F_V' on the grid")
        i = idx[0]
        out = minimize_scalar(lambda x: sign * float(self.dF(x, alpha)), bounds=(S_GRID[i - 1], S_GRID[i + 1]),
                              method="bounded", options={"xatol": 1e-12})
        return sign * out.fun, float(out.x)

    def window(self, lo=15.0, hi=45.0, n=61):
        """``(alpha_low, alpha_high)``: where F_V has two minima (scan in alpha, then the fold roots)."""
        alphas = np.linspace(lo, hi, n)
        two = np.array([len(self.minima(a)) == 2 for a in alphas])
        inside = np.nonzero(two)[0]
        if not len(inside) or inside[0] == 0 or inside[-1] == n - 1 or np.any(np.diff(inside) != 1):
            raise RuntimeError(f"V={self.V}: no single bistable window inside [{lo}, {hi}]")
        i0, i1 = inside[0], inside[-1]
        a_lo = brentq(lambda a: self._extremum_of_dF(a, "dip")[0], alphas[i0 - 1], alphas[i0], xtol=1e-11)
        a_hi = brentq(lambda a: self._extremum_of_dF(a, "hump")[0], alphas[i1], alphas[i1 + 1], xtol=1e-11)
        return a_lo, a_hi

    def coexistence(self, a_lo, a_hi):
        """``(alpha_c, s_dis, s_copy, s_saddle)`` where the two minima of F_V are equal."""
        def dG(a):
            lo_s, hi_s = self.minima(a)
            return float(np.real(self.F(hi_s, a) - self.F(lo_s, a)))

        pad = 1e-4 * (a_hi - a_lo)
        ac = brentq(dG, a_lo + pad, a_hi - pad, xtol=1e-11)
        st = self.stationary(ac)
        return ac, st[0][0], st[2][0], st[1][0]

    # ---------------------------------------------------------------- one loop over all T^2 scores
    def F_full(self, S, alpha):
        """``F_V(S)`` for a stack of real ``T x T`` scores (rate from the singular values)."""
        sv = np.linalg.svd(S, compute_uv=False)
        A = softmax_rows(S)
        T = self.T
        m = (A * shift(T)).sum(axis=(-2, -1)) / T
        r = (A * A).sum(axis=(-2, -1)) / T
        return (self.nu * rate_qk(sv).sum(axis=-1) - energy(m, r, alpha, self.sigma2)
                - e1_checkpoint(A, alpha, self.sigma2, self.kappa) / self.V)

    def hessian_full(self, S, alpha, h=1e-3):
        """``T^2 x T^2`` Hessian of ``F_full`` at ``S`` by central second differences of values, and the
        central-difference gradient (its norm checks that ``S`` is stationary over all scores)."""
        n = S.size
        x = S.ravel()
        E = np.eye(n) * h
        pp = x + E[:, None, :] + E[None, :, :]
        pm = x + E[:, None, :] - E[None, :, :]
        f = lambda X: self.F_full(X.reshape(X.shape[:-1] + S.shape), alpha)  # noqa: E731
        fpp, fpm = f(pp), f(pm)
        H = (fpp - fpm - fpm.T + f(x - E[:, None, :] - E[None, :, :])) / (4 * h * h)
        grad = (f(x + E) - f(x - E)) / (2 * h)
        return 0.5 * (H + H.T), grad

    def log_z(self, s, alpha):
        from copyhead.theory.one_loop import qk_log_prefactor  # the one shared piece (module docstring)

        S = s * self.Jc
        H, grad = self.hessian_full(S, alpha)
        ev = np.linalg.eigvalsh(H)
        if ev[0] <= 0:
            raise RuntimeError(f"V={self.V} alpha={alpha}: Hessian not positive at s={s} (min eig {ev[0]})")
        log_det = float(np.sum(np.log(ev)) + S.size * math.log(float(self.V) ** 2))
        F = float(self.F_full(S, alpha))
        return -self.V ** 2 * F + qk_log_prefactor(S) - 0.5 * log_det, float(np.abs(grad).max()), float(ev[0])

    def one_loop_alpha_c(self, a_lo, a_hi):
        stats = {}

        def diff(a):
            s_dis, s_copy = self.minima(a)
            zc, gc, ec = self.log_z(s_copy, a)
            zd, gd, ed = self.log_z(s_dis, a)
            stats[a] = (max(gc, gd), min(ec, ed))
            return zc - zd

        pad = 1e-3 * (a_hi - a_lo)
        ac = brentq(diff, a_lo + pad, a_hi - pad, xtol=1e-9)
        grad_max = max(v[0] for v in stats.values())
        return ac, grad_max, min(v[1] for v in stats.values())


# --------------------------------------------------------------------------- the fixture
def _entry(value, what, atol):
    return {"value": float(value), "source": f"{SRC}; {what}", "atol": atol}


TOL = {"alpha_spinodal_low": 2e-4, "alpha_spinodal_high": 2e-4, "alpha_coexistence": 3e-5,
       "m": 3e-4, "alpha_c_one_loop": 2e-4}
TOL_WHY = ("what FiniteSizeTheory must meet, from its own method: spinodals 2e-4 = its bisection in alpha "
           "(tol 1e-4, so +-5e-5) plus its minimum count on a 4001-point s grid (ds = 3.25e-3; the last "
           "~ds^2 of alpha before a fold is unresolved; measured <= 6e-5); coexistence 3e-5 = its bisection "
           "to 1e-6 relative (+-1.4e-5 at alpha ~ 27) on 20001-point grid minima (F error ~F'' ds^2 ~ 1e-7); "
           "m 3e-4: its saddle m is a grid point (ds = 6.5e-4, dm/ds <= 0.25); one loop 2e-4: its brentq "
           "xtol 1e-4, and the finite-difference Hessian here (h = 1e-3, log-det error < 1e-4)")


def compute(verbose=True) -> dict:
    out = {"model": dict(MODEL), "tolerances": TOL_WHY, "finite_V": {}}
    for V in VS:
        g = Golden(V)
        a_lo, a_hi = g.window()
        ac, s_dis, s_copy, s_sad = g.coexistence(a_lo, a_hi)
        e = {
            "N": g.N, "nu_effective": g.nu,
            "alpha_spinodal_low": _entry(a_lo, "F_V' dip touches 0 (copy minimum appears)", TOL["alpha_spinodal_low"]),
            "alpha_spinodal_high": _entry(a_hi, "F_V' hump touches 0 (disordered minimum disappears)",
                                          TOL["alpha_spinodal_high"]),
            "alpha_coexistence": _entry(ac, "equal F_V at the two minima", TOL["alpha_coexistence"]),
            "m_disordered_at_coexistence": _entry(g.m_of_s(s_dis), "disordered minimum at alpha_coexistence", TOL["m"]),
            "m_copy_at_coexistence": _entry(g.m_of_s(s_copy), "copy minimum at alpha_coexistence", TOL["m"]),
            "m_saddle_at_coexistence": _entry(g.m_of_s(s_sad), "saddle (maximum of F_V between the minima)",
                                              TOL["m"]),
        }
        if V in VS_ONE_LOOP:
            a1, grad_max, eig_min = g.one_loop_alpha_c(a_lo, a_hi)
            e["alpha_c_one_loop"] = _entry(
                a1, f"log Z_copy = log Z_dis with the full T^2 finite-difference Hessian and the qk prefactor "
                    f"(theory.one_loop.qk_log_prefactor); max |grad F_V| over all scores at the ansatz minima "
                    f"{grad_max:.1e}, min Hessian eigenvalue {eig_min:.3f}", TOL["alpha_c_one_loop"])
        out["finite_V"][str(V)] = e
        if verbose:
            print(f"V={V:3d} N={g.N}: window [{a_lo:.6f}, {a_hi:.6f}] coexistence {ac:.6f} "
                  f"m {g.m_of_s(s_dis):.4f}/{g.m_of_s(s_sad):.4f}/{g.m_of_s(s_copy):.4f}"
                  + (f" one loop {e['alpha_c_one_loop']['value']:.5f}" if V in VS_ONE_LOOP else ""), flush=True)
    return out


def values(doc) -> dict:
    return {(V, k): e["value"] for V, d in doc["finite_V"].items() for k, e in d.items() if isinstance(e, dict)}


def compare_with_theory(doc) -> None:
    """Print FiniteSizeTheory's numbers next to the golden ones."""
    from copyhead.numerics.finite_size import FiniteSizeTheory
    from copyhead.theory.model import Model

    for V, d in doc["finite_V"].items():
        fs = FiniteSizeTheory(Model(V=int(V)))
        win = fs.window
        br = fs.window_bracket()
        ac = fs.coexistence(*br)[0]
        line = (f"V={V}: low {win[0] - d['alpha_spinodal_low']['value']:+.2e} high "
                f"{win[1] - d['alpha_spinodal_high']['value']:+.2e} coexistence {ac - d['alpha_coexistence']['value']:+.2e}")
        if "alpha_c_one_loop" in d:
            line += f" one loop {fs.one_loop_alpha_c(*br) - d['alpha_c_one_loop']['value']:+.2e}"
        print(line, flush=True)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="recompute and exit 1 if the fixture is stale")
    ap.add_argument("--compare", action="store_true", help="print FiniteSizeTheory's deviations too")
    args = ap.parse_args(argv)
    doc = compute()
    if args.compare:
        compare_with_theory(doc)
    if args.check:
        old = values(json.loads(FIXTURE.read_text()))
        new = values(doc)
        bad = [k for k in set(old) | set(new)
               if k not in old or k not in new or abs(old[k] - new[k]) > 1e-9 * max(1.0, abs(new[k]))]
        if bad:
            print(f"stale fixture {FIXTURE}: {sorted(bad)}", file=sys.stderr)
            return 1
        print(f"{FIXTURE} is up to date")
        return 0
    FIXTURE.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"wrote {FIXTURE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
