"""CLI start-up: `promobot --help` and `promobot validate` against `python -c pass`.

Each case runs as a subprocess of this interpreter, the cases interleaved so
that a busy neighbour slows them alike; the figure per case is the median wall
time over the repetitions. `validate` checks the repository's own `policies/`
and `model-manifests/`. The last line is the slower of `--help` and `validate`
minus the interpreter's own start (goal: at most 0.3 s):

    .venv/bin/python benchmarks/cli_startup.py [--repetitions 15]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CASES: dict[str, list[str]] = {
    "python -c pass": ["-c", "pass"],
    "promobot --help": ["-m", "bot", "--help"],
    "promobot validate": ["-m", "bot", "validate", "policies", "model-manifests"],
    "promobot schema": ["-m", "bot", "schema", "manifest"],
}
MEASURED = ("promobot --help", "promobot validate")
GOAL_S = 0.3


def run_once(arguments: list[str]) -> float:
    """Wall time of one run; a failing command stops the benchmark."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, *arguments], cwd=ROOT, capture_output=True, text=True, check=False
    )
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"{' '.join(arguments)} exited {done.returncode}:\n{done.stdout}{done.stderr}")
    return elapsed


def measure(repetitions: int) -> dict[str, list[float]]:
    """Every case `repetitions` times, interleaved, after one unmeasured warm-up each."""
    for arguments in CASES.values():
        run_once(arguments)
    times: dict[str, list[float]] = {name: [] for name in CASES}
    for _ in range(repetitions):
        for name, arguments in CASES.items():
            times[name].append(run_once(arguments))
    return times


def main() -> None:
    """Print the table, the ratios and the headline figure."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repetitions", type=int, default=15)
    args = parser.parse_args()

    times = measure(args.repetitions)
    medians = {name: statistics.median(values) for name, values in times.items()}
    python = medians["python -c pass"]
    header = ("case", "median s", "min s", "max s", "over python s", "ratio")
    print("{:<20} {:>9} {:>7} {:>7} {:>14} {:>6}".format(*header))
    for name, values in times.items():
        print(
            f"{name:<20} {medians[name]:>9.3f} {min(values):>7.3f} {max(values):>7.3f} "
            f"{medians[name] - python:>14.3f} {medians[name] / python:>6.1f}"
        )
    over = max(medians[name] for name in MEASURED) - python
    print(f"goal: at most {GOAL_S:.1f} s over python for --help and validate: {over:.3f} s")
    print(f"cli_startup_over_python_s={over:.3f}")


if __name__ == "__main__":
    main()
