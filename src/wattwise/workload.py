"""A small bundled workload for trying wattwise: ``python -m wattwise.workload``.

Multiplies matrices in pure Python (and with NumPy when installed) for a few seconds,
so ``wattwise run -- python -m wattwise.workload`` has something to measure.
"""

from __future__ import annotations

import argparse
import random
import time

__all__ = ["burn"]


def burn(seconds: float, size: int = 48) -> int:
    """Multiply ``size``×``size`` matrices for ``seconds``; returns how many were done."""
    rng = random.Random(0)
    a = [[rng.random() for _ in range(size)] for _ in range(size)]
    b = [[rng.random() for _ in range(size)] for _ in range(size)]
    bt = list(zip(*b, strict=False))
    done = 0
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        [[sum(x * y for x, y in zip(row, col, strict=False)) for col in bt] for row in a]
        done += 1
    return done


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=5.0, help="how long to work")
    args = parser.parse_args(argv)
    if args.seconds <= 0:
        parser.error("--seconds must be positive")
    n = burn(args.seconds)
    print(f"workload: {n} matrix products in {args.seconds:g}s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
