"""``copyhead induction``: the two-layer induction head on n-gram Markov chains (seed 003).

Trains the paper's model (copier -> selector -> classifier) full batch on in-context n-gram data
and reads off the three roles: the heads' offset distributions (copier), the normalised selector
weights against the subset predicted by the modified chi-square criterion (selector), the
classifier scale ``a(t)`` and the losses against the Bayes-optimal in-context floor (classifier).

:func:`compute` is the pure entry point (a dict of plain option values in, a JSON-able dict out;
no files), used by :func:`run` and by sweeps; :data:`DEFAULTS` lists every option.
"""
from __future__ import annotations

import dataclasses

from .common import ProgressBar, add_run_args, outdir, set_threads, silent, warn

NAME = "induction"
HELP = "two-layer induction head on n-gram chains: copier, selector, classifier vs the Bayes floor"


def _defaults() -> dict:
    from copyhead.theory.induction import InductionModel

    d = {f.name: f.default for f in dataclasses.fields(InductionModel)}
    d.update({"steps": 5000, "optimizer": "gd", "lr": None, "schedule": "joint", "init": "paper",
              "sequences": 10000, "val_sequences": None, "seed": 0, "criterion_draws": 4000})
    return d


DEFAULTS = _defaults()
"""Every option of :func:`compute` with its default (model fields of ``InductionModel``, training
fields of ``TrainConfig``, data and seed)."""

_TRAIN_KEYS = ("steps", "optimizer", "lr", "schedule", "init")


def build(config: dict):
    """Validate a config (unknown keys and bad values raise ``ParameterError``) and return
    ``(resolved config, InductionModel, TrainConfig)``."""
    from copyhead.theory.induction import InductionModel
    from copyhead.theory.model import ParameterError, _check_int
    from copyhead.verification.induction.training import TrainConfig

    unknown = sorted(set(config) - set(DEFAULTS))
    if unknown:
        raise ParameterError(unknown[0], config[unknown[0]], f"is not an option of {NAME} ({', '.join(DEFAULTS)})")
    cfg = {**DEFAULTS, **{k: v for k, v in config.items() if v is not None or k in ("window", "lr", "val_sequences")}}
    model = InductionModel(**{k: cfg[k] for k in (f.name for f in dataclasses.fields(InductionModel))})
    train = TrainConfig(**{k: cfg[k] for k in _TRAIN_KEYS})
    for key, lo in (("sequences", 2), ("criterion_draws", 2), ("seed", 0)):
        cfg[key] = _check_int(key, cfg[key], lo)
    if cfg["val_sequences"] is not None:
        vs = cfg["val_sequences"] = _check_int("val_sequences", cfg["val_sequences"], 1)
        if vs >= cfg["sequences"]:
            raise ParameterError("val_sequences", vs, f"must be < sequences = {cfg['sequences']}")
    cfg.update(window=model.window, lr=train.lr)
    return cfg, model, train


def warn_misspecified(model) -> None:
    """Warn (stderr) when the layer-1 window is shorter than the chain's ``n - 1`` parents: a legitimate
    misspecified experiment (the selector criterion ranks the subsets inside the window; the parents
    beyond it are copied by no head and the loss cannot reach the Bayes floor), but usually a typo."""
    if not model.window_covers_parents:
        lo, hi = model.window + 1, model.n - 1
        missed = f"parent at offset {hi}" if lo == hi else f"parents at offsets {lo}..{hi}"
        warn(f"window={model.window} < n - 1 = {hi}: the layer-1 copier cannot reach the {missed} "
             f"(a misspecified model; the loss stays above the Bayes floor); use --window >= {hi} to give every "
             f"parent an offset")


def validate(config: dict) -> None:
    """Check a config without computing (``copyhead sweep`` calls it for every task first); warns
    about a window shorter than the parents (:func:`warn_misspecified`)."""
    warn_misspecified(build(config)[1])


def compute(config: dict, progress=None) -> dict:
    """Run one experiment from plain option values (missing ones take :data:`DEFAULTS`).

    Returns the JSON-able result of :func:`copyhead.verification.induction.run_experiment` plus
    ``"config"`` (every option, resolved). ``progress(done, total)`` is called after each step.
    """
    cfg, model, train = build(config)
    from copyhead.verification.induction.experiment import run_experiment

    out = run_experiment(model, train, sequences=cfg["sequences"], val_sequences=cfg["val_sequences"],
                         seed=cfg["seed"], criterion_draws=cfg["criterion_draws"], progress=progress)
    return {"config": cfg, **out}


def add_arguments(p):
    add_run_args(p, seed="seed of data, initialisation noise and criterion",
                 json="print the result as one JSON document", command=NAME)
    d = DEFAULTS
    p.add_argument("--n", type=int, default=d["n"], help="chain order: each token has n-1 parents")
    p.add_argument("--S", type=int, default=d["S"], help="vocabulary size")
    p.add_argument("--L", type=int, default=d["L"], help="sequence length")
    p.add_argument("--dirichlet", type=float, default=d["dirichlet"], help="Dirichlet concentration of each transition row")
    p.add_argument("--sequences", type=int, default=d["sequences"], help="number of sequences (train + validation)")
    p.add_argument("--val-sequences", type=int, default=None, help="validation sequences (default: sequences // 10)")
    p.add_argument("--heads", type=int, default=d["heads"], help="layer-1 heads H")
    p.add_argument("--window", type=int, default=None, help="layer-1 window M (default: max(heads, n-1); M < n-1 is a misspecified model and warns)")
    p.add_argument("--degree", type=int, default=d["degree"], help="largest selector subset size D")
    p.add_argument("--steps", type=int, default=d["steps"], help="full-batch training steps")
    p.add_argument("--optimizer", choices=("gd", "adam"), default=d["optimizer"], help="gradient descent or Adam")
    p.add_argument("--lr", type=float, default=None, help="learning rate (default: 1 for gd, 0.03 for adam)")
    p.add_argument("--schedule", choices=("joint", "staged"), default=d["schedule"],
                   help="train everything together, or c, then w, then a (thirds of the steps)")
    p.add_argument("--init", choices=("paper", "neutral"), default=d["init"],
                   help="paper: head h starts on offset h (w+=3, w-=0.1); neutral: equal logits + noise 0.01")
    p.add_argument("--eps", type=float, default=d["eps"], help="uniform mixing (1-eps) p + eps/S of the prediction")
    p.add_argument("--variant", choices=("simplified", "full"), default=d["variant"], help="model variant")
    p.add_argument("--layer1", choices=("softmax", "linear"), default=d["layer1"], help="layer-1 offset weights")
    p.add_argument("--criterion-draws", type=int, default=d["criterion_draws"],
                   help="Monte Carlo tables for the selector criterion")


def _config_from_args(args) -> dict:
    return {k: getattr(args, k) for k in DEFAULTS if hasattr(args, k)}


def _trace_rows(r: dict) -> tuple:
    """CSV rows of the traces and their columns (documented in the README)."""
    tr = r["traces"]
    sub = ["sel_" + ("+".join(u) if u else "empty") for u in r["selector"]["subsets"]]
    H, M = len(tr["copier"][0]), len(tr["copier"][0][0])
    cop = [f"copier_h{h}_k{k}" for h in range(1, H + 1) for k in range(1, M + 1)]
    cols = ["step", "stage", "train_loss", "val_loss", "a"] + sub + cop
    rows = []
    for i, s in enumerate(tr["step"]):
        row = {"step": int(s), "stage": tr["stage"][i], "train_loss": float(tr["train_loss"][i]),
               "val_loss": float(tr["val_loss"][i]), "a": float(tr["a"][i])}
        row.update({c: float(v) for c, v in zip(sub, tr["selector"][i])})
        row.update({c: float(v) for c, v in zip(cop, [x for hrow in tr["copier"][i] for x in hrow])})
        rows.append(row)
    return rows, cols


def _print_summary(r: dict, files) -> None:
    import numpy as np

    W = np.asarray(r["copier"]["weights"])
    print(f"copyhead induction: n={r['model']['n']} S={r['model']['S']} L={r['model']['L']} "
          f"heads={r['model']['heads']} window={r['model']['window']} degree={r['model']['degree']} "
          f"{r['model']['variant']}/{r['model']['layer1']}, {r['sequences']['train']}+{r['sequences']['val']} sequences, "
          f"{r['train_config']['optimizer']} lr={r['train_config']['lr']:g} {r['train_config']['schedule']} "
          f"init={r['train_config']['init']}, {r['steps']} steps")
    print(f"  copier ({r['copier']['measure']}), offsets {r['copier']['offsets']}, parents {r['parents']}:")
    for h, row in enumerate(W, 1):
        print(f"    h{h}: " + " ".join(f"{v:6.3f}" for v in row))
    pc = r["copier"]["parents"]
    print(f"    parent -> head {dict(zip(r['parents'], pc['heads']))}, weights {[round(v, 3) for v in pc['weights']]}")
    sel = r["selector"]
    order = np.argsort(-np.asarray(sel["weights"]))[:4]
    top = ", ".join("{" + ",".join(sel["subsets"][i]) + f"}}={sel['weights'][i]:.3f}" for i in order)
    print(f"  selector: {top}")
    if "predicted" in sel:
        crit = sel["criterion"]
        print(f"    predicted offsets {sel['predicted_offsets']} (margin z = {crit['margin_z']:.1f} over offsets "
              f"{crit['runner_up_offsets']}) -> heads {{{','.join(sel['predicted'])}}}; head peak offsets "
              f"{sel['head_peak_offsets']}; winner {{{','.join(sel['winner'])}}} -> "
              f"{'agrees' if sel['matches_prediction'] else 'DISAGREES'}; weight on agreeing subsets "
              f"{sel['agreeing_weight']:.3f}, on subsets of predicted-offset copiers only "
              f"{sel['predicted_only_weight']:.3f}")
    L = r["loss"]
    print(f"  classifier: a = {r['classifier']['a']:.4f} (init {r['classifier']['a_trace'][0]:.4f})")
    print(f"  loss (nats): train {L['train']:.4f} (Bayes {L['bayes_train']:.4f}, gap {L['train_minus_bayes']:+.4f} "
          f"+- {L['train_minus_bayes_se']:.4f}); val {L['val']:.4f} (Bayes {L['bayes_val']:.4f}, gap "
          f"{L['val_minus_bayes']:+.4f} +- {L['val_minus_bayes_se']:.4f}); uniform ln S {L['uniform']:.4f}")
    print(f"  |grad| at the end {r['grad_norm']:.2e}; wall time {r['wall_s']:.1f} s (training {r['train_wall_s']:.1f} s)")
    print("  wrote " + ", ".join(str(f) for f in files))


def run(args) -> int:
    set_threads(args.threads)
    config = _config_from_args(args)
    validate(config)                   # validate everything before computing
    folder = outdir(args.outdir)
    from copyhead.io import provenance, write_csv, write_json
    from copyhead.verification.induction.plots import plot_all

    bar = ProgressBar("induction", quiet=silent(args))
    r = compute(config, progress=bar)
    bar.close()
    prov = provenance(seeds=r["seeds"], wall_s=r["wall_s"])
    jpath = write_json(r, folder / "induction.json", provenance=prov)
    rows, cols = _trace_rows(r)
    cpath = write_csv(rows, folder / "induction_traces.csv", columns=cols)
    figs = plot_all(r, folder, fmt=args.format)
    if args.json:
        from copyhead.io import to_json_text

        print(to_json_text({**r, "provenance": prov}, indent=None))
        return 0
    if not silent(args):
        _print_summary(r, [jpath, cpath] + figs)
    return 0
