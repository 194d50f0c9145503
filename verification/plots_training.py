"""Figure of Adam training runs: ``m(t)``, ``r(t)`` and the loss ``U(t)/V^2`` (matplotlib, Agg)."""
from __future__ import annotations

from pathlib import Path
from typing import Iterable, Optional

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

_INIT_STYLE = {"prior": "-", "copy": "--"}


def _label(res) -> str:
    m = res.model
    return f"{m.attention} a={m.alpha:g} {res.init} (m={res.m:.3f})"


def plot_training(
    results: Iterable,
    path,
    title: Optional[str] = None,
    theory_m: Optional[dict] = None,
    log_steps: bool = True,
) -> Path:
    """Plot ``m(t)``, ``r(t)``, ``U(t)/V^2`` and ``|grad U|(t)`` of several :class:`TrainResult`.

    Runs with the same ``(attention, alpha)`` share a colour; the init sets the line style
    (``prior`` solid, ``copy`` dashed). ``theory_m`` optionally maps a label (any string) to a
    value of ``m`` drawn as a horizontal dotted line. Saves a PNG to ``path``; returns the path.
    """
    results = list(results)
    path = Path(path)
    keys = []
    for res in results:
        k = (res.model.attention, res.model.alpha)
        if k not in keys:
            keys.append(k)
    cmap = plt.get_cmap("viridis" if len(keys) > 10 else "tab10")
    colour = {k: cmap(i / max(1, len(keys) - 1) if len(keys) > 10 else i) for i, k in enumerate(keys)}

    fig, axes = plt.subplots(2, 2, figsize=(11, 7.5), sharex=True)
    ax_m, ax_r, ax_l, ax_g = axes.ravel()
    for res in results:
        c = colour[(res.model.attention, res.model.alpha)]
        ls = _INIT_STYLE.get(res.init, ":")
        t = np.maximum(res.trace_step, 1) if log_steps else res.trace_step
        V2 = res.model.V ** 2
        ax_m.plot(t, res.m_trace, ls=ls, color=c, label=_label(res))
        ax_r.plot(t, res.r_trace, ls=ls, color=c)
        ax_l.plot(t, res.loss_trace / V2, ls=ls, color=c)
        ax_g.plot(t, np.maximum(res.grad_trace, 1e-16), ls=ls, color=c)
    if theory_m:
        for lab, val in theory_m.items():
            ax_m.axhline(val, ls=":", color="k", lw=0.8)
            ax_m.annotate(lab, (0.01, val), xycoords=("axes fraction", "data"), fontsize=7)
    ax_m.set_ylabel("m (copy weight)")
    ax_r.set_ylabel("r (self-overlap)")
    ax_l.set_ylabel("U / V^2 (MAP loss)")
    ax_g.set_ylabel("|grad U|")
    ax_g.set_yscale("log")
    for ax in (ax_l, ax_g):
        ax.set_xlabel("Adam step")
    if log_steps:
        for ax in axes.ravel():
            ax.set_xscale("log")
    ax_m.legend(fontsize=7, loc="best")
    if title:
        fig.suptitle(title)
    from copyhead.numerics.plotting import save_figure

    return save_figure(fig, path)
