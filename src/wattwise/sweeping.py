"""Complexity sweeps: train every variant of a model family, measured, and pick one.

::

    result = wattwise.sweep(
        lambda depth, width: make_mlp(depth, width),
        grid={"depth": [2, 4, 8], "width": [64, 256]},
        train=lambda model, run: fit(model, run),      # may use run.epochs() / run.step()
        evaluate=lambda model: accuracy(model, test),  # higher is better (maximize=True)
        tolerance=0.01,                                # accept 1 point below the best
    )
    print(result.cheapest_within_tolerance.params)

Each variant of the grid's Cartesian product (in the grid's order, the last name varying
fastest) is built by ``factory(**params)`` and trained inside its own
:class:`~wattwise.tracking.Tracker` run, named ``"<name> depth=2 width=64"`` and tagged
with its parameters and ``sweep=<name>``. The energy of a variant is that run's headline
figure (whole machine or the tracked process, as configured) with its method label
(``measured``/``estimated``). ``evaluate(model)`` runs *after* the run stops, so the
energy is the training's alone; log what you want stored with the run from ``train``
(``run.log(val_accuracy=...)``).

The choice: ``best`` is the variant with the best metric (ties: the cheaper);
``cheapest_within_tolerance`` the one using least energy among those whose metric is at
most ``tolerance`` worse than the best's, an *absolute* difference in the metric's own
units (0.01 = one accuracy point when the metric is a fraction). That variant is always
on the energy-metric Pareto front.

A variant whose ``factory``, ``train`` or ``evaluate`` raises is recorded with its error
(and the energy its run used until then) and the sweep goes on; such variants, and those
whose metric is not a finite number, are left off the front and out of the choice.
``on_error="raise"`` stops at the first error instead. Ctrl-C always stops the sweep.

This module imports nothing heavy until a sweep runs.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from wattwise.exceptions import ConfigError

if TYPE_CHECKING:
    from wattwise.record import RunRecord
    from wattwise.tracking import Tracker

__all__ = [
    "SweepResult",
    "SweepVariant",
    "count_parameters",
    "grid_variants",
    "print_sweep",
    "sweep",
]

_EPS = 1e-9  # slack for the tolerance test: 0.96 - 0.01 must accept 0.95


@dataclass(frozen=True)
class SweepVariant:
    """One trained variant.

    Attributes:
        params: the grid values it was built with (``factory(**params)``).
        energy_j: headline energy of its training run (J); for a failed variant, what
            the run used until it failed (0 when it never started).
        co2_g: headline emissions of that run (gCO2e).
        duration_s: the run's duration (s).
        metric: what ``evaluate`` returned (None when the variant failed).
        run_id: id of its run in the store (None when the run never started).
        method: ``measured``, ``estimated``, ``mixed`` or ``none`` (the headline's).
        parameters: number of model parameters (PyTorch ``parameters()`` or Keras
            ``count_params()``), None when the model offers neither.
        on_front: whether it is on the energy-metric Pareto front.
        error: ``"TypeError: ..."`` when ``factory``, ``train`` or ``evaluate`` raised.
        record: the run's full record (None when the run never started).
    """

    params: Mapping[str, Any]
    energy_j: float
    co2_g: float
    duration_s: float
    metric: float | None
    run_id: str | None
    method: str
    parameters: int | None
    on_front: bool = False
    error: str | None = None
    record: RunRecord | None = field(default=None, repr=False, compare=False)

    @property
    def ok(self) -> bool:
        """Trained and evaluated without error, to a finite metric."""
        return self.error is None and self.metric is not None and math.isfinite(self.metric)

    @property
    def label(self) -> str:
        """``depth=2 width=64``."""
        return _label(self.params)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready figures (the record is left out: see ``run_id``)."""
        return {
            "params": {k: _jsonable(v) for k, v in self.params.items()},
            "energy_j": self.energy_j,
            "co2_g": self.co2_g,
            "duration_s": self.duration_s,
            "metric": self.metric if self.metric is None or math.isfinite(self.metric) else None,
            "run_id": self.run_id,
            "method": self.method,
            "parameters": self.parameters,
            "on_front": self.on_front,
            "error": self.error,
        }


@dataclass(frozen=True)
class SweepResult:
    """Every variant in grid order, with the best and the cheapest good-enough one.

    Attributes:
        name: the sweep's name (its runs' ``sweep`` tag).
        variants: one per grid point, in the grid's order.
        best: the variant with the best metric (None when none succeeded).
        cheapest_within_tolerance: the least energy among those within ``tolerance`` of
            the best's metric (None when none succeeded).
        tolerance: the accepted absolute loss of metric.
        maximize: whether a higher metric is better.
        metric_name: what the metric is called in tables and JSON.
        store: where the runs were saved (URL, or ``memory``).
    """

    name: str
    variants: tuple[SweepVariant, ...]
    best: SweepVariant | None
    cheapest_within_tolerance: SweepVariant | None
    tolerance: float
    maximize: bool
    metric_name: str = "metric"
    store: str = "memory"

    @property
    def front(self) -> tuple[SweepVariant, ...]:
        """The Pareto-front variants, by rising energy."""
        return tuple(sorted((v for v in self.variants if v.on_front), key=lambda v: v.energy_j))

    @property
    def failed(self) -> tuple[SweepVariant, ...]:
        """The variants that raised or gave no finite metric."""
        return tuple(v for v in self.variants if not v.ok)

    @property
    def energy_saving(self) -> float | None:
        """``1 - E(cheapest within tolerance) / E(best)`` (None without both, or E(best)=0)."""
        best, cheap = self.best, self.cheapest_within_tolerance
        if best is None or cheap is None or best.energy_j <= 0:
            return None
        return 1.0 - cheap.energy_j / best.energy_j

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready figures."""
        index = {id(v): i for i, v in enumerate(self.variants)}
        return {
            "name": self.name,
            "metric_name": self.metric_name,
            "maximize": self.maximize,
            "tolerance": self.tolerance,
            "store": self.store,
            "variants": [v.to_dict() for v in self.variants],
            "best": index.get(id(self.best)),
            "cheapest_within_tolerance": index.get(id(self.cheapest_within_tolerance)),
            "energy_saving": self.energy_saving,
        }


def grid_variants(grid: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """The grid's Cartesian product in a stable order (the last name varies fastest).

    Raises ConfigError for an empty grid, a name that is not a Python identifier, a
    value list that is not a non-empty list or tuple, or a value given twice.
    """
    if not isinstance(grid, Mapping) or not grid:
        raise ConfigError("a sweep needs a non-empty grid: {'name': [value, ...], ...}")
    for name, values in grid.items():
        if not isinstance(name, str) or not name.isidentifier():
            raise ConfigError(f"grid name {name!r} is not a keyword argument name")
        if not isinstance(values, list | tuple):
            raise ConfigError(
                f"grid[{name!r}] must be a list of values, not {type(values).__name__}"
            )
        if not values:
            raise ConfigError(f"grid[{name!r}] has no values")
        for i, value in enumerate(values):
            if any(_same(value, other) for other in values[:i]):
                raise ConfigError(f"grid[{name!r}] lists {value!r} twice")
    names = list(grid)
    return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*grid.values())]


def sweep(
    factory: Callable[..., Any],
    grid: Mapping[str, Sequence[Any]],
    *,
    train: Callable[[Any, Tracker], Any],
    evaluate: Callable[[Any], float],
    tracker_options: Mapping[str, Any] | None = None,
    name: str = "sweep",
    tolerance: float = 0.01,
    maximize: bool = True,
    metric_name: str = "metric",
    store: Any = None,
    on_error: Literal["record", "raise"] = "record",
    on_variant: Callable[[int, int, SweepVariant], None] | None = None,
) -> SweepResult:
    """Train each variant of ``grid`` under tracking; energy vs metric, front and choice.

    Args:
        factory: ``factory(**params)`` builds one variant's model.
        grid: name → list of values; every combination is trained (see
            :func:`grid_variants` for the order).
        train: ``train(model, run)``, the training loop, inside the variant's run
            (``run`` is its :class:`~wattwise.tracking.Tracker`, already started).
        evaluate: ``evaluate(model) -> float`` after the run stopped (not measured).
        tracker_options: keyword arguments for every variant's
            :class:`~wattwise.tracking.Tracker` (``zone``, ``config``, ``sensors``,
            ``live``, ``tags``...). Sensor objects given here are reused by each run.
        name: the sweep's name: its runs are named ``"<name> <params>"`` and tagged
            ``sweep=<name>`` (and one tag per parameter).
        tolerance: absolute metric loss accepted for ``cheapest_within_tolerance``
            (≥ 0, in the metric's units).
        maximize: whether a higher metric is better (accuracy) or lower (loss).
        metric_name: the metric's name in tables and JSON.
        store: where to save the runs (as ``Tracker(store=...)``); default the config's.
            Opened once and shared by every variant.
        on_error: ``record`` a failing variant and go on, or ``raise`` its error.
        on_variant: called as ``on_variant(i, n, variant)`` after each variant
            (progress lines).

    Raises:
        ConfigError: a bad grid, tolerance, name or option.
        WattwiseError: what a variant's tracker raised on start (a store that cannot be
            opened, strict mode without sensors): that ends the sweep, whatever
            ``on_error`` says, since every later variant would fail the same way.
    """
    variants_params = grid_variants(grid)
    if isinstance(tolerance, bool) or not isinstance(tolerance, int | float):
        raise ConfigError(f"tolerance must be a number, not {tolerance!r}")
    if not math.isfinite(tolerance) or tolerance < 0:
        raise ConfigError(f"tolerance must be a finite number ≥ 0, not {tolerance!r}")
    if not isinstance(name, str) or not name.strip():
        raise ConfigError("a sweep needs a non-empty name")
    if on_error not in ("record", "raise"):
        raise ConfigError(f"on_error must be 'record' or 'raise', not {on_error!r}")
    if not (callable(factory) and callable(train) and callable(evaluate)):
        raise ConfigError("factory, train and evaluate must be callables")
    options = dict(tracker_options or {})
    if store is not None and "store" in options:
        raise ConfigError("give the store once: as store= or in tracker_options, not both")
    target = options.pop("store", store)
    user_tags = {str(k): str(v) for k, v in dict(options.pop("tags", None) or {}).items()}

    from wattwise.tracking import Tracker

    done: list[SweepVariant] = []
    trackers: list[Tracker] = []
    try:
        for i, params in enumerate(variants_params):
            opened = next((t.store for t in trackers if t.store is not None), None)
            tags = {**user_tags, **{k: _tag(v) for k, v in params.items()}, "sweep": name}
            tracker = Tracker(
                f"{name} {_label(params)}",
                tags=tags,
                store=opened if opened is not None else target,  # one store for all
                **options,
            )
            trackers.append(tracker)
            variant = _one(tracker, factory, params, train, evaluate, on_error)
            done.append(variant)
            if on_variant is not None:
                on_variant(i, len(variants_params), variant)
    finally:
        where = "memory"
        owner = next((t for t in trackers if t.store is not None), None)
        if owner is not None:
            where = str(getattr(owner.store, "url", "memory"))
            owner.close()  # closes the store when the sweep opened it (not one given)
    return _choose(done, name, tolerance, maximize, metric_name, where)


def _one(
    tracker: Tracker,
    factory: Callable[..., Any],
    params: Mapping[str, Any],
    train: Callable[[Any, Tracker], Any],
    evaluate: Callable[[Any], float],
    on_error: str,
) -> SweepVariant:
    try:
        model = factory(**params)
    except Exception as exc:
        if on_error == "raise":
            raise
        return SweepVariant(dict(params), 0.0, 0.0, 0.0, None, None, "none", None, error=_err(exc))
    error: str | None = None
    tracker.start()  # outside the try: a store or sensor that fails here ends the sweep
    try:
        with tracker:  # a raising train records the run as failed and re-raises
            train(model, tracker)
    except Exception as exc:
        if on_error == "raise":
            raise
        error = _err(exc)
    record = tracker.result
    metric: float | None = None
    if error is None:
        try:
            metric = float(evaluate(model))
        except Exception as exc:
            if on_error == "raise":
                raise
            error = _err(exc)
    return SweepVariant(
        params=dict(params),
        energy_j=record.energy_j,
        co2_g=record.co2_g,
        duration_s=record.duration_s,
        metric=metric,
        run_id=record.id,
        method=record.footprint.method,
        parameters=count_parameters(model),
        error=error,
        record=record,
    )


def _choose(
    variants: Sequence[SweepVariant],
    name: str,
    tolerance: float,
    maximize: bool,
    metric_name: str,
    store: str,
) -> SweepResult:
    from dataclasses import replace

    from wattwise.report.compare import pareto_front

    good = [i for i, v in enumerate(variants) if v.ok]
    sign = 1.0 if maximize else -1.0
    score = {i: sign * float(variants[i].metric or 0.0) for i in good}
    front = pareto_front(
        [variants[i].energy_j for i in good],
        [float(variants[i].metric or 0.0) for i in good],
        maximize=maximize,
    )
    on_front = {good[k] for k in front}
    final = [replace(v, on_front=i in on_front) for i, v in enumerate(variants)]
    best = cheapest = None
    if good:
        b = max(good, key=lambda i: (score[i], -variants[i].energy_j))
        floor = score[b] - tolerance - _EPS * max(1.0, abs(score[b]))
        within = [i for i in good if score[i] >= floor]
        c = min(within, key=lambda i: (variants[i].energy_j, -score[i]))
        best, cheapest = final[b], final[c]
    return SweepResult(
        name=name,
        variants=tuple(final),
        best=best,
        cheapest_within_tolerance=cheapest,
        tolerance=float(tolerance),
        maximize=maximize,
        metric_name=metric_name,
        store=store,
    )


def count_parameters(model: Any) -> int | None:
    """Parameters of a PyTorch module (``parameters()``) or a Keras model
    (``count_params()``); None for anything else."""
    try:
        if hasattr(model, "parameters") and callable(model.parameters):
            return int(sum(int(p.numel()) for p in model.parameters()))
        if hasattr(model, "count_params") and callable(model.count_params):
            return int(model.count_params())
    except Exception:  # an unbuilt Keras model, a parameters() that is something else
        return None
    return None


def print_sweep(result: SweepResult, console: Any, *, title: str | None = None) -> None:
    """A table of the variants by rising energy: ✓ on the Pareto front, ★ the chosen
    (cheapest within tolerance), then one line on the choice."""
    from rich.markup import escape
    from rich.table import Table

    from wattwise.summary import fmt_duration, fmt_energy

    names = list(result.variants[0].params) if result.variants else []
    methods = sorted({v.method for v in result.variants if v.record is not None})
    table = Table(
        title=title
        or f"sweep {result.name} · energy ({', '.join(methods) or 'none'}) vs {result.metric_name}",
        title_justify="left",
    )
    for n in names:
        table.add_column(escape(n))
    table.add_column("params", justify="right")
    table.add_column("energy", justify="right")
    table.add_column("gCO2e", justify="right")
    table.add_column("time", justify="right")
    table.add_column(escape(result.metric_name), justify="right")
    table.add_column("front", justify="center")
    table.add_column("", justify="center")
    ordered = sorted(result.variants, key=lambda v: (not v.ok, v.energy_j))
    chosen = result.cheapest_within_tolerance
    for v in ordered:
        mark = "★" if v is chosen else ("best" if v is result.best else "")
        metric = (
            f"{v.metric:.4g}" if v.metric is not None else f"[red]{escape(v.error or 'failed')}[/]"
        )
        table.add_row(
            *(escape(_tag(v.params[n])) for n in names),
            f"{v.parameters:,}" if v.parameters is not None else "-",
            fmt_energy(v.energy_j),
            f"{v.co2_g:.3g}",
            fmt_duration(v.duration_s),
            metric,
            "✓" if v.on_front else "",
            mark,
        )
    console.print(table)
    best = result.best
    if best is None or chosen is None:
        console.print("no variant trained and evaluated without error")
        return
    better = "higher" if result.maximize else "lower"
    line = (
        f"★ cheapest within {result.tolerance:g} of the best {result.metric_name} "
        f"({better} is better): {escape(chosen.label)}, {fmt_energy(chosen.energy_j)}, "
        f"{result.metric_name} {chosen.metric:.4g}"
    )
    if chosen is not best:
        saving = result.energy_saving
        line += (
            f" · best {escape(best.label)}: {fmt_energy(best.energy_j)}, "
            f"{result.metric_name} {best.metric:.4g}"
        )
        if saving is not None:
            line += f" · {saving:.0%} less energy"
    else:
        line += " (also the best)"
    console.print(line, soft_wrap=True)


# -- helpers -------------------------------------------------------------------------------
def _label(params: Mapping[str, Any]) -> str:
    return " ".join(f"{k}={_tag(v)}" for k, v in params.items())


def _tag(value: Any) -> str:
    return value if isinstance(value, str) else repr(value)


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    return repr(value)


def _same(a: Any, b: Any) -> bool:
    try:
        return type(a) is type(b) and bool(a == b)
    except Exception:  # arrays and other values without a plain truth value
        return a is b


def _err(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__
