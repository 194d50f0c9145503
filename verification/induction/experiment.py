"""One induction-head experiment: data, theory, training, and the roles read off the trained model.

:func:`run_experiment` draws the data (``sequences`` sequences, the last ``val_sequences`` of them
for validation), trains (:func:`.training.train`), evaluates the Bayes floor and the selector
criterion (:mod:`copyhead.theory.induction`) and returns a JSON-able dict (the layout of
``copyhead induction --json``; see the README).

Seeds: ``SeedSequence(seed).spawn(3)`` -> data (NumPy generator), initialisation noise (torch
generator), criterion Monte Carlo (NumPy); all three are recorded in the result.
"""
from __future__ import annotations

import time
from typing import Callable

import numpy as np
import torch

from copyhead.theory.induction import (InductionModel, bayes_predictive, sample_ngram, selector_criterion,
                                       selector_signal)
from copyhead.theory.model import ParameterError

from .model import Batch, parent_coverage
from .training import TrainConfig, train


def _seeds(seed: int) -> dict:
    kids = np.random.SeedSequence(int(seed)).spawn(3)
    ints = [int(k.generate_state(1, dtype=np.uint32)[0]) for k in kids]
    return {"seed": int(seed), "data": ints[0], "init": ints[1], "criterion": ints[2],
            "derivation": "SeedSequence(seed).spawn(3) -> generate_state(1)[0] of each child"}


def _nll_model(net, batch: Batch) -> np.ndarray:
    with torch.no_grad():
        return (-torch.log(net.label_probability(batch))).cpu().numpy()


def _loss_summary(model, net, batch, tokens, labels) -> dict:
    """Model and Bayes cross-entropies on one set, with the paired standard error of the gap."""
    m = _nll_model(net, batch)
    pb = bayes_predictive(model, tokens)
    b = -np.log(pb[np.arange(len(labels)), labels])
    d = m - b
    se = float(d.std(ddof=1) / np.sqrt(d.size)) if d.size > 1 else float("nan")
    return {"model": float(m.mean()), "bayes": float(b.mean()), "gap": float(d.mean()), "gap_se": se}


def peak_offsets(weights: np.ndarray) -> list:
    """The offset each head copies most (largest |weight|), 1-based, per head."""
    return [int(k) + 1 for k in np.argmax(np.abs(np.asarray(weights)), axis=1)]


def _selector_prediction(model, crit, copier, names, final) -> dict:
    """The theory's offset subset read in head space.

    The heads that realise the prediction are those whose peak offset lies in the predicted offset
    subset ``U*`` (several heads may copy the same parent). A selector subset *agrees* with the
    prediction when it contains no ``x``, all its heads copy offsets of ``U*`` and together they
    cover all of ``U*``. ``predicted`` is the smallest such subset (one head per offset, the head
    with the largest weight on it); ``agreeing_weight`` sums the selector weight of all agreeing
    subsets, ``predicted_only_weight`` that of all subsets without ``x`` whose heads all copy
    predicted offsets (subsets with any other head carry the rest), and ``matches_prediction`` says whether the largest selector weight is on one of them.
    """
    offs = set(crit.predicted)
    peaks = peak_offsets(copier)
    W = np.abs(np.asarray(copier))
    best = {k: int(np.argmax(W[:, k - 1])) + 1 for k in sorted(offs)}
    predicted = sorted({f"h{h}" for h in best.values()}, key=lambda s: int(s[1:]))

    def agrees(u):
        if not u or "x" in u:
            return False
        ks = [peaks[int(c[1:]) - 1] for c in u]
        return set(ks) == offs

    def parent_only(u):  # no x, every head copies one of the predicted offsets
        return bool(u) and "x" not in u and all(peaks[int(c[1:]) - 1] in offs for c in u)

    ok = [agrees(u) for u in names]
    po = [parent_only(u) for u in names]
    out = {"predicted": predicted, "predicted_offsets": sorted(offs), "head_peak_offsets": peaks,
           "agreeing_subsets": [u for u, a in zip(names, ok) if a],
           "agreeing_weight": float(np.sum(np.asarray(final)[ok])) if any(ok) else 0.0,
           "predicted_only_weight": float(np.sum(np.asarray(final)[po])) if any(po) else 0.0,
           "matches_prediction": bool(ok[int(np.argmax(final))])}
    if len(set(best.values())) < len(best):
        out["note"] = "one head has the largest weight on two predicted offsets"
    return out


def run_experiment(model: InductionModel, cfg: TrainConfig, sequences: int = 10000, val_sequences: int = None,
                   seed: int = 0, criterion_draws: int = 4000, progress: Callable = None) -> dict:
    """Data, training, theory and roles of one run (see the module docstring)."""
    sequences = int(sequences)
    if sequences < 2:
        raise ParameterError("sequences", sequences, "must be >= 2")
    n_val = max(1, sequences // 10) if val_sequences is None else int(val_sequences)
    if not 1 <= n_val < sequences:
        raise ParameterError("val_sequences", val_sequences, f"must be in [1, sequences - 1 = {sequences - 1}]")
    seeds = _seeds(seed)
    t0 = time.perf_counter()
    data = sample_ngram(model, sequences, np.random.default_rng(seeds["data"]), keep_tables=False)
    tr, va = data.split(sequences - n_val)
    bt, bv = Batch(model, tr.tokens, tr.labels), Batch(model, va.tokens, va.labels)
    gen = torch.Generator().manual_seed(seeds["init"])
    res = train(model, cfg, bt, bv, generator=gen, progress=progress)
    net = res.net
    loss_tr = _loss_summary(model, net, bt, tr.tokens, tr.labels)
    loss_va = _loss_summary(model, net, bv, va.tokens, va.labels)
    names = model.subset_names
    final_sel = res.selector[-1]
    copier = res.copier[-1]
    out = {"parents": model.parents, "model": model.to_dict(), "train_config": cfg.to_dict(),
           "sequences": {"train": len(tr), "val": len(va)}}
    out["copier"] = {"offsets": list(range(1, model.window + 1)), "weights": copier, "weights_init": res.copier[0],
                     "parents": parent_coverage(copier, model.parents),
                     "measure": "softmax(w_h)" if model.layer1 == "softmax" else "w_h / sum_k |w_hk|"}
    sel = {"subsets": names, "weights": final_sel, "weights_init": res.selector[0],
           "winner": names[int(np.argmax(final_sel))]}
    if model.degree >= 1:
        crit = selector_criterion(model, draws=criterion_draws, seed=seeds["criterion"])
        sig = selector_signal(model, tr.tokens, tr.labels, crit.subsets)
        sel.update(_selector_prediction(model, crit, copier, names, final_sel))
        sel["criterion"] = crit.to_dict()
        sel["signal_train"] = {"offset_subsets": [list(u) for u in sig["subsets"]], "mean": sig["mean"],
                               "se": sig["se"], "definition": "finite-L first-order selector gradient g_U "
                                                              "(perfect copier) averaged over the training set"}
    out["selector"] = sel
    out["classifier"] = {"a": float(res.a[-1]), "a_trace": res.a}
    out["loss"] = {"train": res.final["train"], "val": res.final["val"], "bayes_val": loss_va["bayes"],
                   "bayes_train": loss_tr["bayes"], "uniform": float(np.log(model.S)),
                   "val_minus_bayes": loss_va["gap"], "val_minus_bayes_se": loss_va["gap_se"],
                   "train_minus_bayes": loss_tr["gap"], "train_minus_bayes_se": loss_tr["gap_se"],
                   "units": "nats; model scored with (1-eps) p + eps/S"}
    out["grad_norm"] = res.grad_norm
    out["traces"] = {"step": res.step, "stage": res.stage.tolist(), "train_loss": res.train_loss,
                     "val_loss": res.val_loss, "a": res.a, "selector": res.selector, "copier": res.copier}
    out["steps"] = cfg.steps
    out["seeds"] = seeds
    out["train_wall_s"] = res.wall_s
    out["wall_s"] = time.perf_counter() - t0
    return out
