"""The results file of the finite-size studies, generated from the saved result files only.

Reads ``<out>/landscape/*.json`` (``copyhead landscape`` runs: item 3), ``<out>/alpha_c/*.json``
(umbrella runs at a few alphas per V: item 4) and ``<out>/linear/verify_linear_V*_seed*.json``
(``copyhead verify --attention linear``: item 5); computes the theory values it compares with
(one-loop and ``F - e1/V`` coexistence, one-loop pseudo-critical points, the solver's exponent)
and writes ``RESULTS.md``, ``report.json``, ``alpha_c.png`` and ``collapse.png`` into ``<out>``.
Nothing in the tables is typed by hand.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from copyhead.io import atomic_write, provenance, write_json
from copyhead.theory.model import Model

from .report_format import f as format_value
from .landscape_alpha_c import alpha_c_at_V, fit_alpha_c_V, line_root
from .landscape_fss import (beta_from_solver, collapse_quality, landau_constants, one_loop_critical_alpha,
                            one_loop_landau, phi, scaling_variables)


def _load(folder: Path, pattern: str) -> list:
    return [json.loads(p.read_text()) | {"_file": str(p)} for p in sorted(folder.glob(pattern))]


def _fmt(v, nd=3, sign=False):
    """``v`` with ``nd`` decimals (and its sign); "–" for None and non-finite numbers."""
    return format_value(v, f"{'+' if sign else ''}.{nd}f")


# --------------------------------------------------------------------------- item 4
def alpha_c_table(runs: list) -> list:
    """One row per V: the Monte Carlo alpha_c (:func:`alpha_c_at_V`) and the theory predictions."""
    from copyhead.numerics.finite_size import FiniteSizeTheory

    rows = []
    for V in sorted({r["V"] for r in runs}):
        rs = [r for r in runs if r["V"] == V]
        if len({r["alpha"] for r in rs}) < 2:
            continue
        mc = alpha_c_at_V(rs)
        model = Model(**{k: v for k, v in rs[0]["model"].items() if k in ("T", "nu", "sigma2", "kappa", "prior")},
                      attention="softmax", V=V)
        theory = FiniteSizeTheory(model)
        lo, hi = min(mc["alphas"]) - 3.0, max(mc["alphas"]) + 3.0
        cc = theory.coexistence(lo, hi)
        # one loop with m integrated exactly: the root of the line through the landscape-integral
        # log-odds that every run stored at its own alpha (theory.log_odds_one_loop)
        th = [(r["alpha_effective"], r["theory"]["log_odds_one_loop"]) for r in rs
              if (r.get("theory") or {}).get("log_odds_one_loop") is not None]
        mc["alpha_c_one_loop_landscape"] = line_root(*zip(*th))["root"] if len({a for a, _ in th}) >= 2 else None
        mc.update(alpha_c_one_loop=theory.one_loop_alpha_c(lo, hi), alpha_c_saddle=None if cc is None else float(cc[0]),
                  alpha_c_by_data=[d["alpha_c"] for d in mc["by_data"]],
                  wall_s=float(sum(r["wall_s"]["total"] for r in rs)),
                  windows=len(rs[0]["windows"]["centres"]), replicas=rs[0]["options"]["replicas"],
                  iters=rs[0]["options"]["iters"], warmup=rs[0]["options"]["warmup"],
                  log_odds_err_chain=float(np.sqrt(np.mean([d["log_odds_err"] ** 2 for r in rs for d in r["datasets"]]))),
                  log_odds_data_sd=float(np.sqrt(np.mean([r["data_sd"] ** 2 for r in rs if r.get("data_sd") is not None]))),
                  **_start_difference(rs))
        rows.append(mc)
    return rows


def _start_difference(rs) -> dict:
    """Hysteresis check: log-odds of the ansatz-start runs minus the prior-start runs, paired by
    (alpha, data set); mean, standard error over the pairs and their ratio ``z``."""
    diffs = [d["log_odds_starts"]["ansatz"]["mean"] - d["log_odds_starts"]["prior"]["mean"]
             for r in rs for d in r["datasets"] if {"ansatz", "prior"} <= set(d["log_odds_starts"])]
    if len(diffs) < 2:
        return {"start_diff": None, "start_diff_err": None, "start_z": None}
    m, e = float(np.mean(diffs)), float(np.std(diffs, ddof=1) / math.sqrt(len(diffs)))
    return {"start_diff": m, "start_diff_err": e, "start_z": m / e if e > 0 else None}


# --------------------------------------------------------------------------- item 5
def collapse_study(verify_docs: list) -> dict:
    """Scaling of HMC ``<|m|>`` (linear attention) at several V: raw, mean-field with ``alpha_c(inf)``,
    and with the one-loop pseudo-critical point ``alpha_c(V)``; collapse quality of each."""
    model = Model(**{k: v for k, v in verify_docs[0]["params"]["model"].items()
                     if k in ("T", "nu", "sigma2", "kappa", "prior")}, attention="linear")
    lc = landau_constants(model)
    window = 4.0  # |x| <= window: the critical region where Phi is the prediction
    sizes = []
    for doc in sorted(verify_docs, key=lambda d: d["params"]["V"]):
        V = doc["params"]["V"]
        by_a = {}
        for r in doc["rows"]:
            by_a.setdefault(r["alpha_effective"], []).append(r)
        a = np.array(sorted(by_a))
        # both starts sample the same posterior (no start dependence for linear attention): average them
        m = np.array([np.mean([r["m_mean"] for r in by_a[x]]) for x in a])
        e = np.array([math.sqrt(sum(r["m_err"] ** 2 for r in by_a[x])) / len(by_a[x]) for x in a])
        m1 = np.array([by_a[x][0].get("theory_m_1loop", np.nan) for x in a])
        ac_V = one_loop_critical_alpha(model, V, lc["alpha_c"] - 1.0, lc["alpha_c"] + 2.5)
        near = np.abs(lc["c_x"] * V * (a - ac_V)) <= 2 * window
        land = [one_loop_landau(model, x, V) for x in a[near]]
        B_ok = bool(land) and all(r["B"] > 0 for r in land)
        sizes.append({"V": V, "alpha": a, "m": m, "m_err": e, "m_one_loop": m1, "alpha_c_one_loop": ac_V,
                      "wall_s": doc["params"].get("wall_time_s"), "landau": land, "near": near, "B_positive": B_ok})
    def local(s):
        sv = scaling_variables(s["alpha"][s["near"]], s["m"][s["near"]], s["m_err"][s["near"]], s["landau"])
        return sv["x"] * -1.0, sv["y"], sv["y_err"]  # -A/sqrt(B): increases into the ordered phase

    variants = {
        "raw": lambda s: (s["alpha"], s["m"], s["m_err"]),
        "mean_field": lambda s: (lc["c_x"] * s["V"] * (s["alpha"] - lc["alpha_c"]), lc["c_y"] * math.sqrt(s["V"]) * s["m"],
                                 lc["c_y"] * math.sqrt(s["V"]) * s["m_err"]),
        "one_loop": lambda s: (lc["c_x"] * s["V"] * (s["alpha"] - s["alpha_c_one_loop"]),
                               lc["c_y"] * math.sqrt(s["V"]) * s["m"], lc["c_y"] * math.sqrt(s["V"]) * s["m_err"]),
        "one_loop_local": local,
    }
    quality = {}
    for subset_name, subset in (("all", sizes), ("V>=16", [s for s in sizes if s["V"] >= 16])):
        if len(subset) < 2:
            continue
        q = {}
        for name, f in variants.items():
            if name == "one_loop_local" and not all(s["B_positive"] for s in subset):
                continue  # the quartic coefficient of V^2 F_eff is negative at V = 8: no Landau scaling form
            curves = [f(s) for s in subset]
            if name != "raw":
                # restrict to the critical window of the scaled variable, and the same alphas for "raw"
                curves = [tuple(np.asarray(c)[np.abs(cv[0]) <= window] for c in cv) for cv in curves]
            else:  # before scaling: the points inside the V = inf critical window of each size
                xs = [variants["mean_field"](s)[0] for s in subset]
                curves = [tuple(np.asarray(c)[np.abs(x) <= window] for c in cv) for cv, x in zip(curves, xs)]
            q[name] = collapse_quality(curves)
            if name != "raw":
                x = np.concatenate([c[0] for c in curves])
                y = np.concatenate([c[1] for c in curves])
                ey = np.concatenate([c[2] for c in curves])
                q[name]["chi2_per_point_vs_phi"] = float(np.mean(((y - phi(-x)) / ey) ** 2))
                q[name]["rms_vs_phi"] = float(np.sqrt(np.mean((y - phi(-x)) ** 2)))
        quality[subset_name] = q
    return {"landau": lc, "sizes": sizes, "quality": quality, "window": window}


def plot_collapse(study: dict, path) -> str:
    """Raw ``<|m|>(alpha)``; mean-field variables with ``alpha_c(inf)``; with the one-loop
    ``alpha_c(V)``; local one-loop Landau variables ``x = -A/sqrt(B)``, ``y = <|m|> B^{1/4}``."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    lc = study["landau"]
    fig, axes = plt.subplots(2, 2, figsize=(11, 8.6))
    axes = axes.ravel()
    xx = np.linspace(-6, 6, 200)
    for i, s in enumerate(study["sizes"]):
        V = s["V"]
        sc = lc["c_y"] * math.sqrt(V)
        kw = dict(fmt="o", ms=3.5, capsize=2, label=f"V={V}", color=f"C{i}")
        axes[0].errorbar(s["alpha"], s["m"], yerr=s["m_err"], **kw)
        axes[0].plot(s["alpha"], s["m_one_loop"], "-", lw=0.8, color="0.5")
        x_mf = lc["c_x"] * V * (s["alpha"] - lc["alpha_c"])
        axes[1].errorbar(x_mf, sc * s["m"], yerr=sc * s["m_err"], **kw)
        x_1l = lc["c_x"] * V * (s["alpha"] - s["alpha_c_one_loop"])
        axes[2].errorbar(x_1l, sc * s["m"], yerr=sc * s["m_err"], **kw)
        axes[2].plot(x_1l, sc * s["m_one_loop"], "-", lw=0.8, color="0.5")
        if s["B_positive"]:
            sv = scaling_variables(s["alpha"][s["near"]], s["m"][s["near"]], s["m_err"][s["near"]], s["landau"])
            axes[3].errorbar(-sv["x"], sv["y"], yerr=sv["y_err"], **kw)
            st = scaling_variables(s["alpha"][s["near"]], s["m_one_loop"][s["near"]], s["m_err"][s["near"]], s["landau"])
            axes[3].plot(-st["x"], st["y"], "-", lw=0.8, color="0.5")
    for ax in axes[1:]:
        ax.plot(xx, phi(-xx), "k--", lw=1.2, label=r"$\Phi$ (quartic, universal)")
        ax.set_xlim(-6, 6)
        ax.set_ylim(0, 3.2)
        ax.axvspan(-study["window"], study["window"], color="0.92", zorder=-1)
    q = study["quality"].get("V>=16", study["quality"].get("all"))
    sfx = lambda k: f" (S = {q[k]['S']:.1f}, V>=16)" if k in q else ""  # noqa: E731
    axes[0].set(xlabel=r"$\alpha$", ylabel=r"$\langle|m|\rangle$", title="raw (lines: one-loop theory)")
    axes[1].set(xlabel=r"$c_x V(\alpha-\alpha_c(\infty))$", ylabel=r"$c_y V^{1/2}\langle|m|\rangle$",
                title="mean field, alpha_c(inf)" + sfx("mean_field"))
    axes[2].set(xlabel=r"$c_x V(\alpha-\alpha_c^{1\mathrm{-loop}}(V))$", ylabel=r"$c_y V^{1/2}\langle|m|\rangle$",
                title="one-loop alpha_c(V)" + sfx("one_loop"))
    axes[3].set(xlabel=r"$-A/\sqrt{B}$ (one-loop $V^2F_{\rm eff}$)", ylabel=r"$B^{1/4}\langle|m|\rangle$",
                title="local one-loop Landau variables" + sfx("one_loop_local"))
    for ax in axes:
        ax.legend(fontsize=7)
    fig.suptitle("linear attention: finite-size rounding of the continuous onset (HMC, W integrated; "
                 "grey lines: one-loop theory)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return str(path)


# --------------------------------------------------------------------------- the report
SWITCHING_V8_FILE = "switching_V8_seed0_summary.json"
"""The direct measurement the umbrella alpha_c at V = 8 is compared with: the committed summary of
``copyhead switching --V 8 --alphas 25,26,26.5,27,27.5,28,29 --iters 20000 --chains 4 --seed 0``
in ``results/`` (the folder above the study's; ``verification/RESULTS.md``, "Branch switching")."""


def switching_reference(out: Path):
    """``{"alpha_c", "err", "command"}`` of :data:`SWITCHING_V8_FILE` next to ``out``; None if absent."""
    path = Path(out).parent / SWITCHING_V8_FILE
    if not path.exists():
        return None
    d = json.loads(path.read_text())
    cmd = (d.get("provenance") or {}).get("command") or []
    return {"alpha_c": d["alpha_c_mc"], "err": d["alpha_c_mc_err"],
            "command": "copyhead " + " ".join(str(c) for c in cmd[1:]) if cmd else "(command not recorded)"}


def write_report(out: Path) -> list:
    """Write ``RESULTS.md``, ``report.json`` and the figures into ``out``; returns the paths."""
    text, doc, paths = render_report(out, figures=True)
    paths.append(atomic_write(Path(out) / "RESULTS.md", lambda f: f.write(text)))
    paths.append(write_json(doc, Path(out) / "report.json", provenance=provenance()))
    return paths


def render_report(out: Path, figures: bool = False):
    """``(text of RESULTS.md, content of report.json, figure paths)`` from the result files in ``out``.

    Deterministic given the files (``copyhead report --check`` compares the text with the committed
    ``RESULTS.md``); ``figures=True`` also draws every figure (the paths are returned)."""
    from copyhead.numerics.solve import solve

    from .landscape_plots import plot_alpha_c, plot_landscape

    out = Path(out)
    paths = []
    doc = {"format": "copyhead.landscape_report/1"}
    lines = ["# Finite-size free energy, alpha_c(V) and critical scaling (issue 11, items 3-5)", "",
             "Generated by `python examples/landscape_study.py report` from the result files in this folder "
             "(never edited by hand). Default model: T = 8, ν = 0.5, σ² = 0.1, κ = 1, qk prior, posterior. "
             "Timings are wall times on the shared 2-core machine (about five developers; inflated by contention).", ""]

    # item 3 -------------------------------------------------------------------------------------
    land = sorted(_load(out / "landscape", "landscape_*.json"), key=lambda r: (r["V"], r["alpha"]))
    short = {(r["V"], round(r["alpha_effective"], 6)): r for r in _load(out / "alpha_c", "V*_alpha*.json")}
    for r in (land + list(short.values())) if figures else []:  # figures follow the current plotting code
        plot_landscape(r, Path(r["_file"]).with_suffix(".png"))
    if land:
        lines += ["## Free energy along m (umbrella sampling + MBAR)", "",
                  "`ln Z_copy − ln Z_uniform` with the basins split at the barrier top of the measured profile. "
                  "Error: standard error over independent runs (replicas) of one data set; over data sets for the mean. "
                  "Theory: one loop = integral of the constrained-Laplace landscape `exp(−F_1loop(m))` over each basin; "
                  "Laplace = one-loop basin log Z (theory/one_loop_softmax.py); saddle = `V²(F − e1/V)` on the ansatz.", "",
                  "Last column: the short run of the α_c study at the same (V, α) on the same data set, where there is one "
                  "(a convergence check of those runs).", "",
                  "| V | α | runs × iters | data seed | log-odds | ± (runs) | barrier from disordered side (kT) | runs: ansatz / prior start | short α_c run |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for r in land:
            sh = short.get((r["V"], round(r["alpha_effective"], 6)))
            shd = {d["data_seed"]: d for d in sh["datasets"]} if sh else {}
            for d in r["datasets"]:
                st = d["log_odds_starts"]
                o = shd.get(d["data_seed"])
                otxt = (f"{o['log_odds']:+.3f} ± {o['log_odds_err']:.3f} ({sh['options']['replicas']} × {sh['options']['iters']})"
                        if o else "–")
                lines.append(f"| {r['V']} | {r['alpha']:g} | {r['options']['replicas']} × {r['options']['iters']} | "
                             f"{d['data_seed']} | {_fmt(d['log_odds'], 3, True)} | "
                             f"{_fmt(d['log_odds_err'])} | {_fmt(d['barrier_from_dis'], 2)} | "
                             f"{_fmt(st.get('ansatz', {}).get('mean'), 2, True)} / {_fmt(st.get('prior', {}).get('mean'), 2, True)} | {otxt} |")
        lines += ["", "| V | α | log-odds (mean over data sets) | ± | data-set sd | one loop (integral) | one loop (Laplace) | saddle F − e1/V | direct unbiased HMC | wall (s) | figure |",
                  "|---|---|---|---|---|---|---|---|---|---|---|"]
        for r in land:
            th = r.get("theory") or {}
            di = r.get("direct")
            dtxt = f"{di['log_odds']:+.3f} ± {di['log_odds_err']:.3f} ({di['switches']} switches, data seed {di['data_seed']})" if di else "–"
            png = Path(r["_file"]).with_suffix(".png").relative_to(out)
            lines.append(f"| {r['V']} | {r['alpha']:g} | {_fmt(r['log_odds'], 3, True)} | {_fmt(r['log_odds_err'])} | "
                         f"{_fmt(r.get('data_sd'))} | {_fmt(th.get('log_odds_one_loop'), 3, True)} | "
                         f"{_fmt(th.get('log_odds_laplace'), 3, True)} | {_fmt(th.get('log_odds_saddle'), 2, True)} | {dtxt} | "
                         f"{r['wall_s']['total']:.0f} | `{png}` |")
        doc["landscape"] = [{k: r[k] for k in ("V", "alpha", "log_odds", "log_odds_err", "data_sd")} for r in land]
        lines.append("")

    # item 4 -------------------------------------------------------------------------------------
    runs = _load(out / "alpha_c", "V*_alpha*.json")
    table = alpha_c_table(runs) if runs else []
    if table:
        sw = switching_reference(out)
        for row in table:
            if row["V"] == 8 and sw:
                row["alpha_c_switching"], row["alpha_c_switching_err"] = sw["alpha_c"], sw["err"]
        a_inf = solve(Model(attention="softmax")).transition.alpha_c
        Vs = [r["V"] for r in table]
        fits = {}
        if len(table) >= 3:
            fits["free"] = fit_alpha_c_V(Vs, [r["alpha_c"] for r in table], [r["alpha_c_err"] for r in table])
        if len(table) >= 2:
            fits["fixed"] = fit_alpha_c_V(Vs, [r["alpha_c"] for r in table], [r["alpha_c_err"] for r in table], alpha_inf=a_inf)
        lines += ["## alpha_c(V) from equal basin weights", "",
                  "Per data set (nested in α) a weighted line through log-odds(α) gives α_c,d; the table gives the mean "
                  "over data sets ± its standard error (chain + data noise), the standard deviation over data sets, and "
                  "the chain-only error of one α_c,d. `pooled`: root of the data-set-averaged log-odds.", "",
                  "| V | windows × runs × data sets | alphas | α_c (MC) | ± | data-set sd | chain err | pooled | one loop (Laplace) | (MC − 1-loop)/± | one loop, m integrated | F − e1/V | slope d log-odds/dα | log-odds: data-set sd / chain err of one data set | log-odds ansatz − prior start | wall (s) |",
                  "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for r in table:
            z = (r["alpha_c"] - r["alpha_c_one_loop"]) / r["alpha_c_err"] if r["alpha_c_one_loop"] else None
            lines.append(f"| {r['V']} | {r['windows']} × {r['replicas']} × {r['n_data']} | "
                         f"{', '.join(f'{a:.4g}' for a in r['alphas'])} | {r['alpha_c']:.3f} | {r['alpha_c_err']:.3f} | "
                         f"{_fmt(r['data_sd'])} | {r['chain_err']:.3f} | {_fmt(r['alpha_c_pooled'])} | "
                         f"{_fmt(r['alpha_c_one_loop'])} | {_fmt(z, 1, True)} | {_fmt(r['alpha_c_one_loop_landscape'])} | "
                         f"{_fmt(r['alpha_c_saddle'])} | "
                         f"{r['slope']:.1f} | {r['log_odds_data_sd']:.2f} / {r['log_odds_err_chain']:.2f} | "
                         f"{_fmt(r['start_diff'], 3, True)} ± {_fmt(r['start_diff_err'])} | {r['wall_s']:.0f} |")
        for lr in land:  # longer runs at one alpha: alpha_c from their log-odds and the slope of the short runs
            tv = [r for r in table if r["V"] == lr["V"]]
            if tv:
                t = tv[0]
                ac = lr["alpha_effective"] - lr["log_odds"] / t["slope"]
                lines.append("")
                lines.append(f"Check with the longer run at V = {lr['V']}, α = {lr['alpha']:g} "
                             f"({lr['options']['replicas']} runs × {lr['options']['iters']} iterations, data seeds "
                             f"{', '.join(str(d['data_seed']) for d in lr['datasets'])}): α − log-odds/slope = "
                             f"{ac:.4f} ± {lr['log_odds_err'] / t['slope']:.4f} (short runs: {t['alpha_c']:.4f} ± "
                             f"{t['alpha_c_err']:.4f}; one loop {t['alpha_c_one_loop']:.4f}).")
                t["alpha_c_long_run"], t["alpha_c_long_run_err"] = ac, lr["log_odds_err"] / t["slope"]
        r8 = [r for r in table if r["V"] == 8]
        if r8 and sw:
            r = r8[0]
            z = (r["alpha_c"] - sw["alpha_c"]) / math.hypot(r["alpha_c_err"], sw["err"])
            lines += ["", f"V = 8 against the direct switching measurement (`{sw['command']}`): "
                          f"{sw['alpha_c']:.3f} ± {sw['err']:.3f} vs umbrella {r['alpha_c']:.3f} ± {r['alpha_c_err']:.3f} "
                          f"(difference {z:+.1f} combined standard errors)."]
        lines += ["", f"Fits α_c(V) = α_c(∞) + a/V + b/V² (weighted by the errors; parameter errors scaled by "
                      f"sqrt(χ²/dof) when > 1); V = ∞ coexistence of the solver: {a_inf:.4f}.", "",
                  "Rows `one_loop_*` fit the one-loop (Laplace) predictions at the same sizes the same way "
                  "(equal weights 0.001), for comparison.", "",
                  "| α_c(∞) | a | b | χ² / dof |", "|---|---|---|---|"]
        if len(table) >= 3:
            fits["one_loop_free"] = fit_alpha_c_V(Vs, [r["alpha_c_one_loop"] for r in table], [1e-3] * len(table))
            fits["one_loop_fixed"] = fit_alpha_c_V(Vs, [r["alpha_c_one_loop"] for r in table], [1e-3] * len(table),
                                                   alpha_inf=a_inf)
        for key, f in fits.items():
            lines.append(f"| {f['alpha_inf']:.3f} ± {f['alpha_inf_err']:.3f} ({key}) | {f['a']:.2f} ± {f['a_err']:.2f} | "
                         f"{f['b']:.1f} ± {f['b_err']:.1f} | {f['chi2']:.2f} / {f['dof']} |")
        if figures:
            paths.append(plot_alpha_c(table, fits, out / "alpha_c.png"))
        lines += ["", "Figure: `alpha_c.png`. Landscape of every run (profile beside the theory landscapes; "
                  "drawn by this command from the JSON files, not committed): "
                  + ", ".join(f"`{Path(r['_file']).with_suffix('.png').relative_to(out)}`"
                              for r in sorted(runs, key=lambda r: (r["V"], r["alpha"]))) + ".", ""]
        doc["alpha_c"] = {"table": [{k: v for k, v in r.items() if k != "by_data"} for r in table],
                          "by_data": {r["V"]: r["by_data"] for r in table}, "fits": fits, "alpha_c_inf_solver": a_inf,
                          "switching_v8": sw}

    # item 5 -------------------------------------------------------------------------------------
    lin = [d for d in _load(out / "linear", "verify_linear_V*_seed*.json") if "params" in d]  # not the *.wall.json
    bet = beta_from_solver(Model(attention="linear"))
    lines += ["## Critical behaviour of the linear transition", "",
              f"Exponent from the solver (ordered branch, roots of the generated F_u): α_c = {bet['alpha_c']:.6f}, "
              f"Landau b(α_c) = {bet['landau_b']:.6f}, Landau amplitude √(σ²(2α_c−1)/(4b)) = {bet['amplitude_landau']:.6f}.", "",
              "| α − α_c | m | m/(α−α_c)^½ | local β |", "|---|---|---|---|"]
    for row in bet["rows"]:
        lines.append(f"| {row['delta']:.0e} | {row['m']:.6g} | {row['amplitude']:.6f} | {_fmt(row.get('beta_local'), 6)} |")
    doc["beta"] = bet
    if len(lin) >= 2:
        st = collapse_study(lin)
        lc = st["landau"]
        lines += ["", "Finite-size rounding (HMC ⟨|m|⟩, `copyhead verify --attention linear`, both starts averaged). "
                      f"Scaling variables x = c_x V (α − α_c), y = c_y V^½ ⟨|m|⟩ with c_x = {lc['c_x']:.4f}, c_y = {lc['c_y']:.4f} "
                      "(V = ∞ Landau constants: the data then fall on the universal Φ(x) of p(y) ∝ exp(−x y²/2 − y⁴/4)); "
                      "α_c = α_c(∞) (mean field) or the one-loop pseudo-critical point α_c(V) (curvature of V² F_eff at m = 0 "
                      f"vanishes). Collapse quality S = mean squared distance between sizes in units of the combined errors "
                      f"(S ≈ 1: collapse within errors), on the points with |x| ≤ {st['window']:g}; `raw` compares (α, ⟨|m|⟩) on the "
                      f"points inside the V = ∞ window |c_x V (α − α_c(∞))| ≤ {st['window']:g}. `one_loop_local`: x = −A/√B, "
                      "y = B^¼ ⟨|m|⟩ with the local quartic coefficients of the one-loop V² F_eff(m) = A m²/2 + B m⁴/4 + … "
                      "at each α (`verification/landscape_fss.py`). Sizes whose quartic coefficient B is not positive near "
                      "α_c have no Landau scaling form and are left out of that variant: "
                      + (", ".join(f"V = {s['V']}" for s in st["sizes"] if not s["B_positive"]) or "none") + ".", "",
                  "| V | α_c^{1-loop}(V) | α_c(V) − α_c(∞) | wall of the HMC run (s) |", "|---|---|---|---|"]
        for s in st["sizes"]:
            lines.append(f"| {s['V']} | {s['alpha_c_one_loop']:.4f} | {s['alpha_c_one_loop'] - lc['alpha_c']:+.4f} | "
                         f"{_fmt(s['wall_s'], 0)} |")
        lines += ["", "| sizes | variables | S | rms distance | points | χ²/point vs Φ | rms vs Φ |", "|---|---|---|---|---|---|---|"]
        for subset, q in st["quality"].items():
            for name, v in q.items():
                lines.append(f"| {subset} | {name} | {v['S']:.2f} | {v['rms']:.4f} | {v['n']} | "
                             f"{_fmt(v.get('chi2_per_point_vs_phi'), 2)} | {_fmt(v.get('rms_vs_phi'), 4)} |")
        if figures:
            paths.append(plot_collapse(st, out / "collapse.png"))
        lines += ["", "Figure: `collapse.png`.", ""]
        doc["collapse"] = {"landau": lc, "quality": st["quality"], "window": st["window"],
                           "sizes": [{k: s[k] for k in ("V", "alpha_c_one_loop", "wall_s")} for s in st["sizes"]]}
    return "\n".join(lines) + "\n", doc, paths
