"""Helpers shared by every command: the parser class, model options, number lists, progress,
device and threads, output folders.

Model options take their defaults from :class:`copyhead.theory.Model` itself (one source of
truth); ``--help`` shows every default.
"""
from __future__ import annotations

import argparse
import dataclasses
import math
import re
import sys
from pathlib import Path

from copyhead.theory.model import ATTENTIONS, OBJECTIVES, PRIORS, Model, ParameterError


class _DefaultsFormatter(argparse.HelpFormatter):
    """Appends ``(default: X)`` to every option whose help does not already state its default
    (options without a value default, e.g. flags, are left alone)."""

    def _get_help_string(self, action):
        h = action.help or ""
        if ("default" not in h and action.default not in (None, False, argparse.SUPPRESS)
                and action.option_strings):
            h += " (default: %(default)s)"
        return h


_NUMBER = r"(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
NEGATIVE_VALUE = re.compile(rf"^-{_NUMBER}(?:\s*,\s*[-+]?{_NUMBER})*,?$")
"""A word that starts with a minus sign and is a number or a comma-separated list of numbers
(``-1``, ``-1e-3``, ``-1,5``, ``-0.5,.2``): an option's value, never an option name."""


class CliParser(argparse.ArgumentParser):
    """``argparse`` with one-line errors (exit code 2), defaults shown in ``--help``, and negative
    numbers accepted as values in the space form: ``--alphas -1,5`` and ``--vary nu -1e-3 1`` give
    the values to the option (plain argparse takes only ``-1`` or ``-0.5`` for numbers and calls
    ``-1,5`` an unknown option, "expected one argument"); the value is then validated, with the
    option named, by the command. No option of copyhead's is spelled like a number."""

    def __init__(self, *a, **kw):
        kw.setdefault("formatter_class", _DefaultsFormatter)
        super().__init__(*a, **kw)
        self._negative_number_matcher = NEGATIVE_VALUE  # argparse's hook (Python 3.11, 3.12)

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


MODEL_DEFAULTS = {f.name: f.default for f in dataclasses.fields(Model)}
_HELP = {
    "T": "sequence length (cyclic positions)",
    "nu": "query/key width N / V^2",
    "sigma2": "readout prior variance",
    "kappa": "label-noise variance",
    "prior": "prior on the scores",
    "objective": "posterior (sampling) or map (training with weight decay)",
}


def add_model_args(p, attentions=ATTENTIONS, attention_default="softmax", objective=True, explicit=False):
    """``--attention --prior [--objective] --T --nu --sigma2 --kappa`` with ``Model``'s defaults.

    ``explicit=True`` registers them with the value ``None`` (the help still shows ``Model``'s
    default, which :func:`model_from_args` fills in), so that a command can tell which options
    were given (``verify --load`` rejects model options that differ from the saved sweep)."""
    def dflt(name, value):
        return {"default": None, "help": f"{_HELP.get(name, name)} (default: {value})"} if explicit else \
            {"default": value, "help": _HELP.get(name, name)}

    shown = attention_default if attention_default is not None else " and ".join(attentions)  # None: every one
    p.add_argument("--attention", choices=attentions, **dict(dflt("attention", attention_default),
                                                             help=f"attention nonlinearity (default: {shown})"))
    p.add_argument("--prior", choices=PRIORS, **dflt("prior", MODEL_DEFAULTS["prior"]))
    if objective:
        p.add_argument("--objective", choices=OBJECTIVES, **dflt("objective", MODEL_DEFAULTS["objective"]))
    p.add_argument("--T", type=int, **dflt("T", MODEL_DEFAULTS["T"]))
    for name in ("nu", "sigma2", "kappa"):
        p.add_argument(f"--{name}", type=float, **dflt(name, MODEL_DEFAULTS[name]))


def add_window_args(p):
    """``--heads --parents`` of the window copier (``Model.heads``, ``Model.parents``; 1 and 1 is the
    copy head). Only commands that handle the window copier add them."""
    p.add_argument("--heads", type=int, default=MODEL_DEFAULTS["heads"], help="number of attention heads H (window copier)")
    p.add_argument("--parents", type=int, default=MODEL_DEFAULTS["parents"],
                   help="number of parent offsets K (target concat(x_{t-1}, ..., x_{t-K}))")


DEFAULT_OUTDIR = "copyhead-output"
FIGURE_FORMATS = ("png", "pdf", "svg")


def default_outdir(command: str) -> str:
    """``copyhead-output/<command>``: where a command writes when ``--outdir`` is not given."""
    return f"{DEFAULT_OUTDIR}/{command}"


def add_output_args(p, command: str, figures: bool = True):
    """``--outdir`` (default ``copyhead-output/<command>``), ``--format png|pdf|svg`` (when the
    command draws ``figures``) and ``--quiet``."""
    p.add_argument("--outdir", default=default_outdir(command),
                   help="output folder for the JSON summary, CSV table, NetCDF draws and figures "
                        "(created; checked before computing)")
    if figures:
        p.add_argument("--format", choices=FIGURE_FORMATS, default="png", help="file format of the figures")
    p.add_argument("--quiet", action="store_true",
                   help="no progress bars and no table (the files are written; warnings and errors still go "
                        "to stderr)")


def add_run_args(p, outdir="copyhead-output", seed="seed of data and chains", threads=True,
                 json="print the result as JSON", command=None, figures=True):
    """The options every computing command shares: ``--seed --threads --outdir --json``
    (each left out when its argument is None/False). With ``command``, the output options of
    :func:`add_output_args` (``--outdir copyhead-output/<command>``, ``--format``, ``--quiet``)
    replace the plain ``--outdir``."""
    if seed:
        p.add_argument("--seed", type=int, default=0, help=seed)
    if threads:
        p.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    if command:
        add_output_args(p, command, figures=figures)
    elif outdir:
        p.add_argument("--outdir", default=outdir, help="output folder (created; checked before computing)")
    if json:
        p.add_argument("--json", action="store_true", help=json)


def silent(args) -> bool:
    """True when the command prints no table and no progress (``--quiet`` or ``--json``)."""
    return bool(getattr(args, "quiet", False) or getattr(args, "json", False))


def say(args, *lines) -> None:
    """Print ``lines`` on stdout unless the command is :func:`silent`."""
    if not silent(args):
        for line in lines:
            print(line, flush=True)


def warn(text: str) -> None:
    """One line ``copyhead: warning: ...`` on stderr (also with ``--quiet``: warnings are not chatter)."""
    print(f"copyhead: warning: {text}", file=sys.stderr, flush=True)


def resume_hint(checkpoints, every: int):
    """The Ctrl-C message of a sampling command (a callable, evaluated when interrupted): how to
    resume from the checkpoint files in ``checkpoints`` that exist, or that none was written yet
    (the first after ``every`` iterations), or how to make the run resumable (no ``checkpoints``)."""
    import os

    def hint() -> str:
        if not checkpoints:
            return "nothing was saved; --checkpoint PREFIX makes a long run resumable"
        have = [c for c in checkpoints if os.path.exists(c)]
        if have:
            return f"checkpoint saved ({', '.join(have)}): rerun the same command to resume from it"
        return (f"no checkpoint was written yet (the first after {every} iterations): rerunning the same command "
                f"starts afresh")
    return hint


class Outputs:
    """The files of one run of a command, all named ``<outdir>/<stem>...``: the JSON summary
    (``<stem>.json``, with provenance), the CSV table (``<stem>.csv``), the draws (``<stem>.nc``)
    and the figures (``<stem>[_<name>].<format>``). :meth:`add` records every path written, for the
    closing ``wrote ...`` line. The folder is created and checked when the object is made (before
    any computation)."""

    def __init__(self, args, stem: str = ""):
        self.folder = outdir(args.outdir)
        self.stem = stem
        self.format = getattr(args, "format", "png")
        self.written = []

    def path(self, suffix: str) -> Path:
        """``<outdir>/<stem><suffix>``."""
        return self.folder / f"{self.stem}{suffix}"

    def figure(self, name: str = "") -> Path:
        """The path of a figure: ``<outdir>/<stem>[_<name>].<format>``."""
        return self.path((f"_{name}" if name else "") + f".{self.format}")

    def add(self, *paths):
        """Record written ``paths`` (returns the last one)."""
        self.written.extend(Path(p) for p in paths)
        return self.written[-1] if self.written else None

    def line(self) -> str:
        return "wrote " + ", ".join(str(p) for p in self.written)


def model_from_args(args, **overrides) -> Model:
    """A validated :class:`Model` from parsed options (``overrides`` win over ``args``; options
    left at ``None`` take ``Model``'s defaults)."""
    fields = {f.name for f in dataclasses.fields(Model)}
    kw = {k: getattr(args, k) for k in fields if getattr(args, k, None) is not None}
    kw.update(overrides)
    return Model(**kw)


def given(args, names) -> dict:
    """The options among ``names`` that were given (not ``None``): ``{name: value}``."""
    return {n: getattr(args, n) for n in names if getattr(args, n, None) is not None}


def floats(name: str, text: str, positive: bool = True, distinct: bool = False) -> list:
    """A comma-separated list of finite numbers (``> 0`` when ``positive``; no value twice when
    ``distinct``, e.g. the alphas of a sweep, which key its rows); ParameterError names the option."""
    try:
        vals = [float(a) for a in str(text).split(",") if a.strip()]
    except ValueError:
        raise ParameterError(name, text, "must be a comma-separated list of numbers") from None
    if not vals or any(not math.isfinite(v) or (positive and v <= 0) for v in vals):
        raise ParameterError(name, text, "must be a non-empty list of finite numbers" + (" > 0" if positive else ""))
    if distinct and len(set(vals)) < len(vals):
        raise ParameterError(name, text, "must not repeat a value")
    return vals


def at_least(name: str, value: int, minimum: int) -> int:
    """``value`` if it is ``>= minimum`` else ParameterError."""
    if value is None or value < minimum:
        raise ParameterError(name, value, f"must be >= {minimum}")
    return value


def set_threads(n: int) -> int:
    """Validate ``--threads`` and pin torch to it."""
    at_least("threads", n, 1)
    import torch

    torch.set_num_threads(int(n))
    return int(n)


def device(name: str) -> str:
    """``cpu`` or ``cuda`` (the latter only where CUDA is available)."""
    if name not in ("cpu", "cuda"):
        raise ParameterError("device", name, "must be cpu or cuda")
    if name == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise ParameterError("device", name, "CUDA is not available on this machine")
    return name


def outdir(path) -> Path:
    """Create and check the output folder before any computation (one clear error otherwise)."""
    from copyhead.io import prepare_outdir

    return prepare_outdir(path)


def write_result(path, doc: dict, seeds, wall_s: float, **extra) -> Path:
    """Write a command's JSON result ``doc`` (plus its wall time) with provenance (the command line,
    versions, seeds, host, time, wall time; ``extra`` entries added to it)."""
    from copyhead.io import provenance, write_json

    return write_json({**doc, "wall_time_s": wall_s}, path, provenance=provenance(seeds=seeds, wall_s=wall_s, **extra))


_OPEN_BARS: set = set()


def close_progress_bars() -> None:
    """Close every open progress bar (Ctrl-C: the message that follows starts on its own line)."""
    for bar in list(_OPEN_BARS):
        bar.close()


class ProgressBar:
    """A progress bar on stderr (tqdm) with rate and ETA, callable as ``bar(done, total, info)``.

    Silent with ``quiet``. ``info`` may carry ``accept`` (shown as the mean acceptance). The bar
    ends with a newline when ``done`` reaches ``total`` (or on :meth:`close`). The ETA is tqdm's
    smoothed rate over the increments of ``done``. A command that runs several equal parts (one
    per alpha and start) drives one bar through :meth:`part`, so that the ETA covers the whole run.
    """

    def __init__(self, label: str, quiet: bool = False):
        self.label, self.quiet, self._bar = label, quiet, None

    def __call__(self, done: int, total: int, info=None):
        if self.quiet:
            return
        if self._bar is None:
            from tqdm.auto import tqdm

            self._bar = tqdm(total=total, desc=self.label, file=sys.stderr, leave=True, dynamic_ncols=True,
                             mininterval=0.5, smoothing=0.1)
            _OPEN_BARS.add(self)
        self._bar.total = total
        if done >= self._bar.n:
            self._bar.update(done - self._bar.n)
        else:  # a restart (e.g. a resumed run): no rate from the jump back
            self._bar.n = done
        if isinstance(info, dict) and "accept" in info:
            import numpy as np

            self._bar.set_postfix(acc=f"{float(np.mean(info['accept'])):.2f}", refresh=False)
        if done >= total:
            self.close()

    def part(self, index: int, n_parts: int, postfix: str = ""):
        """A ``(done, total, info)`` callback for part ``index`` of ``n_parts`` equal parts: it moves
        this bar from ``index/n_parts`` to ``(index + 1)/n_parts`` of the whole (the whole run's
        ETA), showing ``postfix`` (e.g. ``alpha=20 init=copy``)."""
        def callback(done, total, info=None):
            if self._bar is not None and postfix:
                self._bar.set_description(f"{self.label} [{postfix}]", refresh=False)
            self(index * total + done, n_parts * total, info)
        return callback

    def close(self):
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        _OPEN_BARS.discard(self)
