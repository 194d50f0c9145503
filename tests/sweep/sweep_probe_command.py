"""A command module written the way the new systems write theirs (``compute(options) -> dict``),
for the sweep tests: cheap, seeded, and able to fail or be interrupted on demand."""
from copyhead.theory.model import ParameterError

NAME = "probe"
HELP = "test command for the sweep engine"


def add_arguments(p):
    p.add_argument("--seed", type=int, default=0, help="seed")
    p.add_argument("--x", type=float, default=1.0, help="a number >= 0")
    p.add_argument("--fail-at", type=float, default=None, help="raise ValueError when x equals this")
    p.add_argument("--interrupt-at", type=float, default=None, help="raise KeyboardInterrupt when x equals this")
    p.add_argument("--outdir", default="unused", help="output folder (not swept)")
    p.add_argument("--json", action="store_true", help="not swept")


def validate(o):
    if o["x"] < 0:
        raise ParameterError("x", o["x"], "must be >= 0")


def compute(o):
    if o["fail_at"] is not None and o["x"] == o["fail_at"]:
        raise ValueError(f"injected failure at x={o['x']}")
    if o["interrupt_at"] is not None and o["x"] == o["interrupt_at"]:
        raise KeyboardInterrupt
    import numpy as np

    rng = np.random.default_rng(o["seed"])
    noise = rng.normal(size=3)
    return {"rows": [{"k": k, "y": o["x"] * k + noise[k]} for k in range(3)], "row_dims": ["k"],
            "total": float(o["x"] * 3 + noise.sum()), "loss": {"train": 1.0, "kind": "nats"},
            "trace": noise.tolist(), "info": {"note": "kept in the task file only"},
            "attrs": {"y": {"long_name": "x k + noise", "units": "1"}}}
