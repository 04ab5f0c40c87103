"""Where a CNN's training energy goes: the 2×2×2 design of Yarally et al. on digits.

Yarally, Cruz, Feitosa, Sallou and van Deursen, *Uncovering Energy-Efficient Practices in
Deep Learning Training: Preliminary Steps Towards Green AI* (CAIN 2023, arXiv 2303.13972)
varied a CNN's convolutional layers, linear layers and ReLU activations and found the
convolutional layers the most expensive by far. This module repeats that design, small
enough for a laptop CPU, on scikit-learn's bundled digits (1,797 8×8 images; nothing is
downloaded):

* factors: 1 or 4 convolutional layers, 3 or 7 linear layers, ReLU off or on;
* fixed widths (:data:`CONV_CHANNELS` channels, :data:`HIDDEN` hidden units), no pooling,
  so only the factors change the network;
* each variant trained with Adam for the same epochs from the same seed, measured by its
  own tracker run (:func:`wattwise.sweep`), scored on a held-out fifth of the data.

:func:`factor_shares` splits the variance of the energies into the factors' main effects
(the share of the total sum of squares each explains) and the rest (interactions and, with
repeats, run-to-run noise). ``wattwise demo profile`` runs the whole study and prints it.

PyTorch and scikit-learn are imported only when a model is built or trained.
"""

from __future__ import annotations

import functools
import itertools
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from wattwise.exceptions import ConfigError, WattwiseError

if TYPE_CHECKING:
    from wattwise.sweeping import SweepResult, SweepVariant
    from wattwise.tracking import Tracker

__all__ = [
    "CONV_CHANNELS",
    "FACTORS",
    "HIDDEN",
    "DigitsData",
    "FactorShares",
    "StudyResult",
    "StudyVariant",
    "digits_data",
    "evaluate_digits",
    "factor_shares",
    "make_model",
    "print_study",
    "run_study",
    "train_digits",
    "train_epoch",
]

CONV_CHANNELS = 32
"""Channels of every convolutional layer (3×3, padding 1: the 8×8 maps keep their size)."""
HIDDEN = 128
"""Units of every hidden linear layer."""
FACTORS: Mapping[str, tuple[Any, Any]] = {
    "conv_layers": (1, 4),
    "linear_layers": (3, 7),
    "relu": (False, True),
}
"""The design's factors and their (low, high) levels, as in Yarally et al."""

DEFAULT_EPOCHS = 8
DEFAULT_BATCH_SIZE = 32


def _torch() -> Any:
    try:
        import torch
    except ImportError as exc:
        from wattwise.demo import MissingExtraError

        raise MissingExtraError(
            f"the complexity study needs PyTorch and scikit-learn ({exc.name} is missing): "
            "pip install 'wattwise[demo]'"
        ) from None
    return torch


def make_model(conv_layers: int, linear_layers: int, relu: bool) -> Any:
    """A CNN for 1×8×8 digits with ``conv_layers`` 3×3 convolutions of
    :data:`CONV_CHANNELS` channels, then ``linear_layers`` linear layers (the last one
    maps to the 10 classes; the others have :data:`HIDDEN` units), with a ReLU after
    every layer but the last when ``relu``.

    Raises ConfigError for fewer than 1 convolutional or linear layer.
    """
    for what, n in (("conv_layers", conv_layers), ("linear_layers", linear_layers)):
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ConfigError(f"{what} must be an integer ≥ 1, not {n!r}")
    nn = _torch().nn
    layers: list[Any] = []
    channels = 1
    for _ in range(conv_layers):
        layers.append(nn.Conv2d(channels, CONV_CHANNELS, 3, padding=1))
        channels = CONV_CHANNELS
        if relu:
            layers.append(nn.ReLU())
    layers.append(nn.Flatten())
    features = CONV_CHANNELS * 8 * 8
    for _ in range(linear_layers - 1):
        layers.append(nn.Linear(features, HIDDEN))
        features = HIDDEN
        if relu:
            layers.append(nn.ReLU())
    layers.append(nn.Linear(features, 10))
    return nn.Sequential(*layers)


@dataclass(frozen=True)
class DigitsData:
    """scikit-learn's digits as tensors (pixels scaled to 0..1), split 80/20 at random."""

    x_train: Any
    y_train: Any
    x_test: Any
    y_test: Any


@functools.lru_cache(maxsize=4)
def digits_data(seed: int = 0) -> DigitsData:
    """The digits, shuffled by ``seed``: the first fifth held out for testing."""
    torch = _torch()
    try:
        from sklearn.datasets import load_digits
    except ImportError as exc:
        from wattwise.demo import MissingExtraError

        raise MissingExtraError(
            f"the complexity study needs scikit-learn ({exc.name} is missing): "
            "pip install 'wattwise[demo]'"
        ) from None
    digits = load_digits()
    x = torch.tensor(digits.images, dtype=torch.float32).unsqueeze(1) / 16.0
    y = torch.tensor(digits.target, dtype=torch.long)
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(seed))
    n_test = len(y) // 5
    test, train = order[:n_test], order[n_test:]
    return DigitsData(x[train], y[train], x[test], y[test])


def train_digits(
    model: Any,
    run: Tracker,
    *,
    epochs: int = DEFAULT_EPOCHS,
    batch_size: int = DEFAULT_BATCH_SIZE,
    seed: int = 0,
    lr: float = 1e-3,
    data: DigitsData | None = None,
    limit: int | None = None,
    log_accuracy: bool = True,
) -> None:
    """Train ``model`` on the digits with Adam through ``run.epochs()``/``run.step()``,
    logging each epoch's mean training loss (``run.log(train_loss=...)``) and, after the
    last planned epoch, the held-out accuracy (``val_accuracy``: one forward pass over
    359 images, well under 1 % of the training's work) so the stored runs compare with
    ``wattwise runs compare --metric val_accuracy``.

    ``limit`` trains on the first ``limit`` training images only (quick tests).
    """
    if epochs < 1 or batch_size < 1:
        raise ConfigError("epochs and batch size must be at least 1")
    torch = _torch()
    d = data if data is not None else digits_data(seed)
    x, y = d.x_train, d.y_train
    if limit is not None:
        x, y = x[:limit], y[:limit]
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = torch.nn.functional.cross_entropy
    order = torch.Generator().manual_seed(seed)
    for epoch in run.epochs(epochs):
        loss = train_epoch(model, opt, loss_fn, x, y, batch_size, order, run.step)
        run.log(train_loss=loss)
        if log_accuracy and epoch == epochs - 1:
            run.log(val_accuracy=evaluate_digits(model, d))


def train_epoch(
    model: Any,
    opt: Any,
    loss_fn: Callable[..., Any],
    x: Any,
    y: Any,
    batch_size: int,
    order: Any,
    step: Callable[..., None],
) -> float:
    """One epoch over ``x, y`` in the order drawn from the ``order`` generator, batch by
    batch, calling ``step(samples=n)`` after each optimizer step; the mean batch loss."""
    torch = _torch()
    model.train()
    perm = torch.randperm(len(y), generator=order)
    total, batches = 0.0, 0
    for i in range(0, len(perm), batch_size):
        idx = perm[i : i + batch_size]
        opt.zero_grad()
        loss = loss_fn(model(x[idx]), y[idx])
        loss.backward()
        opt.step()
        step(samples=len(idx))
        total += float(loss.detach())
        batches += 1
    return total / max(batches, 1)


def evaluate_digits(model: Any, data: DigitsData) -> float:
    """Accuracy (0..1) on the held-out digits."""
    torch = _torch()
    model.eval()
    with torch.no_grad():
        predicted = model(data.x_test).argmax(1)
    return float((predicted == data.y_test).float().mean())


# -- the factor analysis -------------------------------------------------------------------
@dataclass(frozen=True)
class FactorShares:
    """Shares of the total sum of squares of a 2^k full factorial.

    Attributes:
        main: each factor's main-effect share (0..1), in the factors' order.
        interactions: each interaction's share, named ``a×b`` (and ``a×b×c``...).
        residual: the within-cell share (replicate noise; 0 with one run per cell).
        scale: ``energy`` (J) or ``log energy``: what the variance is of.
        observations: how many values were analysed.
    """

    main: Mapping[str, float]
    interactions: Mapping[str, float]
    residual: float
    scale: str
    observations: int

    @property
    def other(self) -> float:
        """Interactions and residual together: what the main effects leave."""
        return sum(self.interactions.values()) + self.residual

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready figures."""
        return {
            "scale": self.scale,
            "observations": self.observations,
            "main": dict(self.main),
            "interactions": dict(self.interactions),
            "residual": self.residual,
            "interactions_and_residual": self.other,
        }


def factor_shares(
    observations: Sequence[tuple[Mapping[str, Any], float]], *, log: bool = False
) -> FactorShares:
    """Split the variance of ``value`` over a balanced two-level full factorial.

    ``observations`` are ``(levels, value)`` pairs, ``levels`` mapping every factor to
    one of its two levels; each combination must appear equally often (repeats add a
    residual). Each effect's sum of squares is ``N·(contrast mean)²`` with ±1 contrasts
    (Yates); the shares are those sums over the total sum of squares, so the main
    effects, interactions and residual add up to 1.

    ``log=True`` analyses ``ln(value)``: effects that multiply the energy rather than add
    to it. The default, the energy itself, fits layers whose costs add up (the time of a
    training step is the sum of its layers' times), and reads as "x % of the joules'
    variation comes from this factor".

    Raises ConfigError when the design is not a balanced 2^k factorial, a value is not
    finite (or not positive with ``log``), or the values do not vary.
    """
    if not observations:
        raise ConfigError("no observations to analyse")
    factors = list(observations[0][0])
    if not factors:
        raise ConfigError("the observations name no factor")
    levels: dict[str, list[Any]] = {f: [] for f in factors}
    ys: list[float] = []
    for params, value in observations:
        if list(params) != factors:
            raise ConfigError(f"every observation must name the factors {factors}")
        for f in factors:
            if params[f] not in levels[f]:
                levels[f].append(params[f])
        v = float(value)
        if not math.isfinite(v) or (log and v <= 0):
            raise ConfigError(f"cannot analyse the value {value!r}")
        ys.append(math.log(v) if log else v)
    for f, seen in levels.items():
        if len(seen) != 2:
            raise ConfigError(f"factor {f!r} has {len(seen)} levels; a 2^k design needs 2")
        levels[f] = sorted(seen, key=lambda v: (str(type(v)), v))  # low = the smaller
    cells: dict[tuple[int, ...], list[float]] = {}
    codes: list[tuple[int, ...]] = []
    for (params, _), y in zip(observations, ys, strict=True):
        code = tuple(1 if params[f] == levels[f][1] else -1 for f in factors)
        codes.append(code)
        cells.setdefault(code, []).append(y)
    sizes = {len(v) for v in cells.values()}
    if len(cells) != 2 ** len(factors) or len(sizes) != 1:
        raise ConfigError(
            "the observations are not a balanced full factorial: every combination of "
            "levels must appear equally often"
        )
    n = len(ys)
    mean = sum(ys) / n
    total = sum((y - mean) ** 2 for y in ys)
    if total <= 1e-12 * max(1.0, mean * mean) * n:
        raise ConfigError("the values do not vary: there is nothing to explain")
    main: dict[str, float] = {}
    inter: dict[str, float] = {}
    explained = 0.0
    for k in range(1, len(factors) + 1):
        for subset in itertools.combinations(range(len(factors)), k):
            contrast = sum(
                y * math.prod(code[j] for j in subset) for code, y in zip(codes, ys, strict=True)
            )
            ss = contrast * contrast / n
            explained += ss
            name = "×".join(factors[j] for j in subset)
            (main if k == 1 else inter)[name] = ss / total
    residual = max(0.0, 1.0 - explained / total)
    return FactorShares(main, inter, residual, "log energy" if log else "energy", n)


# -- the study -------------------------------------------------------------------------------
@dataclass(frozen=True)
class StudyVariant:
    """One network of the design: its figures averaged over the repeats.

    Attributes:
        conv_layers, linear_layers, relu: the factors' levels.
        parameters: the model's parameter count.
        energy_j: mean headline training energy (J) over the repeats.
        duration_s: mean training time (s).
        accuracy: mean held-out accuracy (0..1).
        energy_sd_j: the energies' sample standard deviation (0 with one repeat).
        process_energy_j: mean energy attributed to this process (J).
        method: how the energy was obtained (``estimated`` on a machine without sensors).
        run_ids: the runs in the store, one per repeat.
        on_front: on the Pareto front of mean energy against mean accuracy.
    """

    conv_layers: int
    linear_layers: int
    relu: bool
    parameters: int
    energy_j: float
    duration_s: float
    accuracy: float
    energy_sd_j: float
    process_energy_j: float
    method: str
    run_ids: tuple[str, ...]
    on_front: bool = False

    @property
    def params(self) -> dict[str, Any]:
        """The factors as ``make_model`` keywords."""
        return {
            "conv_layers": self.conv_layers,
            "linear_layers": self.linear_layers,
            "relu": self.relu,
        }

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready figures."""
        return {**self.params, **{k: v for k, v in self.__dict__.items() if k not in FACTORS}}


@dataclass(frozen=True)
class StudyResult:
    """The study: the eight networks, the factor shares, smallest vs largest.

    Attributes:
        variants: the eight networks in design order (conv, then linear, then ReLU).
        shares: the variance of the energy split over the factors.
        shares_log: the same for the log of the energy.
        smallest: 1 conv, 3 linear, no ReLU.
        largest: 4 conv, 7 linear, ReLU.
        energy_ratio: smallest's energy over the largest's.
        epochs, batch_size, seed, repeats, threads: how it was run.
        wall_s: the study's run time, from the first model to the last evaluation (s).
        sweeps: one :class:`~wattwise.sweeping.SweepResult` per repeat.
    """

    variants: tuple[StudyVariant, ...]
    shares: FactorShares
    shares_log: FactorShares
    smallest: StudyVariant
    largest: StudyVariant
    energy_ratio: float
    epochs: int
    batch_size: int
    seed: int
    repeats: int
    threads: int
    wall_s: float
    sweeps: tuple[SweepResult, ...]

    @property
    def method(self) -> str:
        """The energies' method, or ``mixed`` when they differ."""
        methods = {v.method for v in self.variants}
        return methods.pop() if len(methods) == 1 else "mixed"

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready figures."""
        return {
            "design": {k: list(v) for k, v in FACTORS.items()},
            "conv_channels": CONV_CHANNELS,
            "hidden_units": HIDDEN,
            "epochs": self.epochs,
            "batch_size": self.batch_size,
            "seed": self.seed,
            "repeats": self.repeats,
            "threads": self.threads,
            "wall_s": self.wall_s,
            "method": self.method,
            "variants": [v.to_dict() for v in self.variants],
            "shares": self.shares.to_dict(),
            "shares_log": self.shares_log.to_dict(),
            "smallest": self.smallest.params,
            "largest": self.largest.params,
            "energy_ratio": self.energy_ratio,
            "smallest_accuracy": self.smallest.accuracy,
            "largest_accuracy": self.largest.accuracy,
        }


def run_study(
    *,
    epochs: int = DEFAULT_EPOCHS,
    batch_size: int = DEFAULT_BATCH_SIZE,
    seed: int = 0,
    repeats: int = 1,
    threads: int | None = 1,
    warmup: bool = True,
    limit: int | None = None,
    tracker_options: Mapping[str, Any] | None = None,
    on_variant: Callable[[int, int, SweepVariant], None] | None = None,
) -> StudyResult:
    """Train the eight networks (``repeats`` times each), measured, and analyse them.

    Every variant starts from ``seed`` (weights and batch order) on the same split;
    repeat ``r`` uses ``seed + r`` and runs the design in the reverse order when odd, so
    a drift in the machine's speed does not line up with a factor. ``warmup`` first runs
    a few untracked steps so the first variant does not pay PyTorch's start-up.

    ``threads`` sets PyTorch's intra-op threads for the study (restored afterwards);
    ``None`` leaves PyTorch's default (one per core). The default is one: these networks
    are too small to gain from more, and on a machine whose cores are busy with anything
    else, intra-op threads wait for each other (on a shared 2-core VM, 2 threads trained
    5-20× slower and erratically), which would swamp the factors' effect on the energy.

    ``limit`` trains on the first ``limit`` training images only (quick checks; the
    test set stays whole). The live display is off unless ``tracker_options`` sets
    ``live``.
    ``on_variant(i, n, variant)`` reports progress.

    Raises ConfigError for bad settings, and any variant's error (a study needs all
    eight).
    """
    from wattwise.sweeping import sweep

    for what, v, low in (("epochs", epochs, 1), ("batch_size", batch_size, 1)):
        if isinstance(v, bool) or not isinstance(v, int) or v < low:
            raise ConfigError(f"{what} must be an integer ≥ {low}, not {v!r}")
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
        raise ConfigError(f"repeats must be an integer ≥ 1, not {repeats!r}")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise ConfigError(f"limit must be an integer ≥ 1, not {limit!r}")
    torch = _torch()
    if threads is not None and (
        isinstance(threads, bool) or not isinstance(threads, int) or threads < 1
    ):
        raise ConfigError(f"threads must be an integer ≥ 1, not {threads!r}")
    options = {"live": "off", **dict(tracker_options or {})}
    previous = torch.get_num_threads()
    n_threads = threads if threads is not None else previous
    torch.set_num_threads(n_threads)
    started = time.perf_counter()
    sweeps: list[SweepResult] = []
    done = 0
    if warmup:
        _warm_up(torch, digits_data(seed), batch_size)
    total = 8 * repeats
    try:
        for r in range(repeats):
            s = seed + r
            data = digits_data(seed)  # one split for every repeat: only the training varies

            def factory(conv_layers: int, linear_layers: int, relu: bool, _s: int = s) -> Any:
                torch.manual_seed(_s)
                return make_model(conv_layers, linear_layers, relu)

            def train(model: Any, run: Tracker, _s: int = s, _d: DigitsData = data) -> None:
                train_digits(
                    model,
                    run,
                    epochs=epochs,
                    batch_size=batch_size,
                    seed=_s,
                    data=_d,
                    limit=limit,
                )

            def progress(i: int, n: int, v: SweepVariant, _base: int = done) -> None:
                if on_variant is not None:
                    on_variant(_base + i, total, v)

            grid = {k: list(levels) for k, levels in FACTORS.items()}
            if r % 2:
                grid = {k: levels[::-1] for k, levels in grid.items()}
            sweeps.append(
                sweep(
                    factory,
                    grid,
                    train=train,
                    evaluate=functools.partial(evaluate_digits, data=data),
                    tracker_options=options,
                    name=f"complexity-seed{s}",
                    metric_name="accuracy",
                    on_error="raise",
                    on_variant=progress,
                )
            )
            done += 8
    finally:
        torch.set_num_threads(previous)
    wall = time.perf_counter() - started
    return _summarise(sweeps, epochs, batch_size, seed, repeats, n_threads, wall)


def profile_layers(
    conv_layers: int,
    linear_layers: int,
    relu: bool,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    seed: int = 0,
    threads: int | None = 1,
    tracker_options: Mapping[str, Any] | None = None,
) -> Any:
    """Where one training step of a variant spends its energy, by layer type.

    Runs :func:`wattwise.profile` (time-share attribution of the measured step energy) on
    a batch of the training digits, with Adam as in the study; returns its
    :class:`~wattwise.profiler.ProfileResult`, saved as its own run.
    """
    from wattwise.profiler import profile

    torch = _torch()
    data = digits_data(seed)
    previous = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        torch.manual_seed(seed)
        model = make_model(conv_layers, linear_layers, relu)
        batch = (data.x_train[:batch_size], data.y_train[:batch_size])
        name = (
            f"profile: {conv_layers} conv, {linear_layers} linear, ReLU {'on' if relu else 'off'}"
        )
        return profile(
            model,
            batch,
            loss_fn=torch.nn.functional.cross_entropy,
            optimizer=torch.optim.Adam(model.parameters(), lr=1e-3),
            name=name,
            **dict(tracker_options or {}),
        )
    finally:
        torch.set_num_threads(previous)


def _warm_up(torch: Any, data: DigitsData, batch_size: int) -> None:
    """A few untracked steps of the largest network: the first variant must not pay for
    PyTorch's one-off start-up (kernels, thread pool, allocator)."""
    model = make_model(4, 7, True)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    for i in range(5):
        idx = slice(i * batch_size, (i + 1) * batch_size)
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(data.x_train[idx]), data.y_train[idx]).backward()
        opt.step()
    evaluate_digits(model, data)


def _summarise(
    sweeps: Sequence[SweepResult],
    epochs: int,
    batch_size: int,
    seed: int,
    repeats: int,
    threads: int,
    wall_s: float,
) -> StudyResult:
    runs: dict[tuple[Any, ...], list[SweepVariant]] = {}
    for result in sweeps:
        for v in result.variants:
            runs.setdefault(tuple(v.params[k] for k in FACTORS), []).append(v)
    variants: list[StudyVariant] = []
    for key in itertools.product(*FACTORS.values()):
        vs = runs.get(key, [])
        if not vs or any(v.metric is None for v in vs):
            missing = dict(zip(FACTORS, key, strict=True))
            raise WattwiseError(f"the study has no result for {missing}")
        energies = [v.energy_j for v in vs]
        mean = sum(energies) / len(energies)
        sd = (
            math.sqrt(sum((e - mean) ** 2 for e in energies) / (len(energies) - 1))
            if len(energies) > 1
            else 0.0
        )
        methods = {v.method for v in vs}
        variants.append(
            StudyVariant(
                conv_layers=key[0],
                linear_layers=key[1],
                relu=key[2],
                parameters=vs[0].parameters or 0,
                energy_j=mean,
                duration_s=sum(v.duration_s for v in vs) / len(vs),
                accuracy=sum(float(v.metric or 0.0) for v in vs) / len(vs),
                energy_sd_j=sd,
                process_energy_j=sum(
                    v.record.process.energy_j if v.record is not None else 0.0 for v in vs
                )
                / len(vs),
                method=methods.pop() if len(methods) == 1 else "mixed",
                run_ids=tuple(v.run_id or "" for v in vs),
            )
        )
    from wattwise.report.compare import pareto_front

    front = set(pareto_front([v.energy_j for v in variants], [v.accuracy for v in variants]))
    variants = [replace(v, on_front=i in front) for i, v in enumerate(variants)]
    observations = [(dict(v.params), v.energy_j) for result in sweeps for v in result.variants]
    smallest, largest = variants[0], variants[-1]
    return StudyResult(
        variants=tuple(variants),
        shares=factor_shares(observations),
        shares_log=factor_shares(observations, log=True),
        smallest=smallest,
        largest=largest,
        energy_ratio=smallest.energy_j / largest.energy_j if largest.energy_j > 0 else math.nan,
        epochs=epochs,
        batch_size=batch_size,
        seed=seed,
        repeats=repeats,
        threads=threads,
        wall_s=wall_s,
        sweeps=tuple(sweeps),
    )


def print_study(result: StudyResult, console: Any) -> None:
    """The eight networks by rising energy, the factor shares and the headline ratio."""
    from rich.table import Table

    from wattwise.summary import fmt_duration

    ordered = sorted(result.variants, key=lambda v: v.energy_j)
    epochs = f"{result.epochs} epoch" + ("s" if result.epochs != 1 else "")
    runs = f" · mean of {result.repeats} seeds" if result.repeats > 1 else ""
    console.print(
        f"[bold]where the joules go[/] · 2×2×2 CNNs on scikit-learn digits · {epochs} · "
        f"energy {result.method}{runs}",
        soft_wrap=True,
    )
    table = Table()
    for col in ("conv", "linear", "ReLU", "params", "energy J", "time", "accuracy", "front"):
        table.add_column(col, justify="right" if col not in ("ReLU", "front") else "center")
    for v in ordered:
        energy = f"{v.energy_j:.1f}" + (f" ± {v.energy_sd_j:.1f}" if result.repeats > 1 else "")
        table.add_row(
            str(v.conv_layers),
            str(v.linear_layers),
            "on" if v.relu else "off",
            f"{v.parameters:,}",
            energy,
            fmt_duration(v.duration_s),
            f"{v.accuracy:.1%}",
            "✓" if v.on_front else "",
        )
    console.print(table)
    s = result.shares
    parts = " · ".join(f"{_short(k)} {share:.1%}" for k, share in s.main.items())
    console.print(
        f"share of the energy's variance: {parts} · interactions + residual {s.other:.1%}"
        f" (of log energy: conv {result.shares_log.main['conv_layers']:.1%})",
        soft_wrap=True,
    )
    sm, lg = result.smallest, result.largest
    console.print(
        f"smallest network (1 conv, 3 linear, no ReLU) / largest (4 conv, 7 linear, ReLU): "
        f"{result.energy_ratio:.2f}× the energy ({sm.energy_j:.1f} J vs {lg.energy_j:.1f} J), "
        f"accuracy {sm.accuracy:.1%} vs {lg.accuracy:.1%}",
        soft_wrap=True,
    )
    threads = f"{result.threads} thread" + ("s" if result.threads != 1 else "")
    console.print(f"study run time {fmt_duration(result.wall_s)} ({threads})")


def _short(factor: str) -> str:
    return {"conv_layers": "conv", "linear_layers": "linear", "relu": "ReLU"}.get(factor, factor)
