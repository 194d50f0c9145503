"""Figure of Adam training runs: ``m(t)``, ``r(t)``, the loss ``U(t)/V^2`` and ``|grad U|(t)``
(matplotlib, Agg; the style and the parameter title of :mod:`verification.figures`)."""
from __future__ import annotations

from pathlib import Path
from typing import Iterable, Optional

import numpy as np

_INIT_STYLE = {"prior": "-", "copy": "--"}
_THEORY_STYLE = (":", "-.", (0, (1, 3)), (0, (5, 2, 1, 2)))


def _label(res, several_alphas: bool) -> str:
    m = res.model
    head = f"{m.attention}, $\\alpha={m.alpha:g}$, " if several_alphas else ""
    return f"{head}{res.init} init (final $m={res.m:.3f}$)"


def plot_training(
    results: Iterable,
    path,
    title: Optional[str] = None,
    theory_m: Optional[dict] = None,
    log_steps: bool = True,
    subtitle: Optional[str] = None,
    grad_tol: Optional[float] = None,
) -> Path:
    """Plot ``m(t)``, ``r(t)``, ``U(t)/V^2`` and ``|grad U|(t)`` of several :class:`TrainResult`.

    Runs with the same ``(attention, alpha)`` share a colour; the init sets the line style
    (``prior`` solid, ``copy`` dashed). ``theory_m`` maps a label to a value of ``m`` (or to
    ``(value, line style kwargs)``) drawn as a horizontal line in the ``m`` panel (in the legend,
    which sits below the panels). ``grad_tol`` (the RMS-gradient tolerance
    times ``sqrt(n_parameters)`` of the runs, i.e. a bound on ``|grad U|``) is drawn in the gradient
    panel. ``title`` and ``subtitle`` (the parameter line) head the figure. The format follows
    ``path``'s suffix; returns the path.
    """
    from .figures import save, style

    results = list(results)
    path = Path(path)
    keys = list(dict.fromkeys((res.model.attention, res.model.alpha) for res in results))
    with style():
        import matplotlib.pyplot as plt

        cmap = plt.get_cmap("viridis" if len(keys) > 10 else "tab10")
        colour = {k: cmap(i / max(1, len(keys) - 1) if len(keys) > 10 else i) for i, k in enumerate(keys)}
        if len(keys) == 1:  # one alpha: black runs, coloured theory lines
            colour = {keys[0]: "black"}
        fig, axes = plt.subplots(2, 2, figsize=(9.5, 7.2), sharex=True, layout="constrained")
        ax_m, ax_r, ax_l, ax_g = axes.ravel()
        for res in results:
            c = colour[(res.model.attention, res.model.alpha)]
            ls = _INIT_STYLE.get(res.init, ":")
            t = np.maximum(res.trace_step, 1) if log_steps else res.trace_step
            ax_m.plot(t, res.m_trace, ls=ls, color=c, label=_label(res, len(keys) > 1))
            ax_r.plot(t, res.r_trace, ls=ls, color=c)
            ax_l.plot(t, res.loss_trace / res.model.V ** 2, ls=ls, color=c)
            ax_g.plot(t, np.maximum(res.grad_trace, 1e-16), ls=ls, color=c)
        for i, (lab, val) in enumerate((theory_m or {}).items()):
            val, kw = val if isinstance(val, tuple) else (val, {})
            ax_m.axhline(val, **{"ls": _THEORY_STYLE[i % len(_THEORY_STYLE)], "color": "0.3", "lw": 1.0, **kw},
                         label=lab)
        if grad_tol is not None:
            ax_g.axhline(grad_tol, color="tab:red", lw=0.9, ls=":", label="convergence tolerance")
        ax_m.set_ylabel(r"copy weight $m$")
        ax_r.set_ylabel(r"self-overlap $r$")
        ax_l.set_ylabel(r"MAP loss $U/V^2$")
        ax_g.set_ylabel(r"$|\nabla U|$")
        ax_g.set_yscale("log")
        for ax in (ax_l, ax_g):
            ax.set_xlabel("Adam step")
        if log_steps:
            for ax in axes.ravel():
                ax.set_xscale("log")
        handles, labels = ax_m.get_legend_handles_labels()
        h_g, l_g = ax_g.get_legend_handles_labels()
        fig.legend(handles + h_g, labels + l_g, loc="outside lower center", ncol=3, frameon=False)
        if title or subtitle:
            fig.suptitle("\n".join(t for t in (title, subtitle) if t))
        return save(fig, path)
