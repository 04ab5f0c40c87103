"""Search spaces: what ``wattwise tune`` varies, read from a mapping or a YAML/JSON/TOML file.

::

    lr:         {low: 1.0e-4, high: 0.3, log: true, grid: [0.001, 0.01, 0.1]}
    beta1:      {low: 0.5, high: 0.99}
    width:      {low: 4, high: 32, step: 4}          # int: low and high are integers
    batch_size: [16, 32, 64, 128]                    # categorical: a list of choices
    optimizer:  {choices: [adam, sgd]}               # the same, spelled out

A numeric entry is an integer range when ``low`` and ``high`` are integers (and ``step``,
if given), a float range otherwise; ``type: int|float|categorical`` says it outright.
``grid`` lists the values the ``grid`` strategy tries; without it a range contributes
:data:`DEFAULT_GRID_POINTS` points spread evenly (geometrically when ``log``) from ``low``
to ``high``, and a categorical entry all its choices.

Numbers written as ``1e-4`` (which YAML 1.1 reads as a string) are accepted.
"""

from __future__ import annotations

import json
import math
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from wattwise.exceptions import ConfigError

__all__ = ["DEFAULT_GRID_POINTS", "Param", "Space", "load_space", "parse_space"]

DEFAULT_GRID_POINTS = 3
"""Points a numeric range contributes to the grid when it lists no ``grid`` values."""

Kind = Literal["float", "int", "categorical"]
_KEYS = {"type", "low", "high", "log", "step", "choices", "grid"}


@dataclass(frozen=True)
class Param:
    """One searched parameter.

    Attributes:
        name: the keyword the objective reads (``trial.params[name]``).
        kind: ``float``, ``int`` or ``categorical``.
        low, high: the range's bounds (numeric kinds; inclusive).
        log: sample on a log scale (numeric kinds).
        step: the spacing of an int range, or of a discretised float range.
        choices: the values of a categorical parameter.
        grid: the values the grid strategy tries.
    """

    name: str
    kind: Kind
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    choices: tuple[Any, ...] = ()
    grid: tuple[Any, ...] = ()

    def distribution(self) -> Any:
        """The Optuna distribution (imports Optuna)."""
        from optuna.distributions import (
            CategoricalDistribution,
            FloatDistribution,
            IntDistribution,
        )

        if self.kind == "categorical":
            return CategoricalDistribution(self.choices)
        assert self.low is not None and self.high is not None
        if self.kind == "int":
            return IntDistribution(
                int(self.low), int(self.high), log=self.log, step=int(self.step or 1)
            )
        return FloatDistribution(self.low, self.high, log=self.log, step=self.step)

    def describe(self) -> str:
        """``lr ∈ [0.0001, 0.3] log`` for tables and logs."""
        if self.kind == "categorical":
            return f"{self.name} ∈ {{{', '.join(_fmt(c) for c in self.choices)}}}"
        text = f"{self.name} ∈ [{_fmt(self.low)}, {_fmt(self.high)}]"
        if self.kind == "int":
            text += " int"
        if self.step is not None and not (self.kind == "int" and self.step == 1):
            text += f" step {_fmt(self.step)}"
        return text + (" log" if self.log else "")


@dataclass(frozen=True)
class Space:
    """The parameters, in the order given."""

    params: tuple[Param, ...]

    @property
    def names(self) -> tuple[str, ...]:
        """The parameters' names."""
        return tuple(p.name for p in self.params)

    def distributions(self) -> dict[str, Any]:
        """name → Optuna distribution."""
        return {p.name: p.distribution() for p in self.params}

    def grid(self) -> dict[str, list[Any]]:
        """name → the values the grid strategy tries."""
        return {p.name: list(p.grid) for p in self.params}

    @property
    def grid_size(self) -> int:
        """Points in the full grid."""
        return math.prod(len(p.grid) for p in self.params)

    def to_dict(self) -> dict[str, Any]:
        """The space in the file format (JSON-ready)."""
        out: dict[str, Any] = {}
        for p in self.params:
            if p.kind == "categorical":
                out[p.name] = {"choices": list(p.choices), "grid": list(p.grid)}
                continue
            d: dict[str, Any] = {"type": p.kind, "low": p.low, "high": p.high}
            if p.log:
                d["log"] = True
            if p.step is not None:
                d["step"] = p.step
            d["grid"] = list(p.grid)
            out[p.name] = d
        return out


def load_space(path: str | os.PathLike[str]) -> Space:
    """Read a space from a ``.yaml``/``.yml``, ``.json`` or ``.toml`` file.

    Raises ConfigError for a file that cannot be read or parsed, or a bad space.
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read the space file {p}: {exc.strerror or exc}") from None
    suffix = p.suffix.lower()
    try:
        if suffix == ".json":
            data = json.loads(text)
        elif suffix == ".toml":
            if sys.version_info >= (3, 11):
                import tomllib
            else:  # pragma: no cover - exercised on 3.10 only
                import tomli as tomllib
            data = tomllib.loads(text)
        elif suffix in (".yaml", ".yml"):
            try:
                import yaml
            except ImportError:
                raise ConfigError(
                    "reading a YAML space needs PyYAML: pip install 'wattwise[tune]'"
                ) from None
            data = yaml.safe_load(text)
        else:
            raise ConfigError(
                f"the space file {p} must end in .yaml, .yml, .json or .toml, not {suffix!r}"
            )
    except ConfigError:
        raise
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"cannot parse the space file {p}: {first}") from None
    return parse_space(data, where=str(p))


def parse_space(space: Mapping[str, Any] | Space, *, where: str = "space") -> Space:
    """Check a space given as a mapping (see the module's docstring) and build it.

    Raises ConfigError, naming the parameter, for anything that is not a valid space.
    """
    if isinstance(space, Space):
        return space
    if not isinstance(space, Mapping) or not space:
        raise ConfigError(f"{where}: a search space is a non-empty mapping of name → range")
    params = []
    for name, spec in space.items():
        if not isinstance(name, str) or not name.isidentifier():
            raise ConfigError(f"{where}: {name!r} is not a parameter name (a Python identifier)")
        params.append(_param(name, spec, where))
    return Space(tuple(params))


def _param(name: str, spec: Any, where: str) -> Param:
    at = f"{where}: {name}"
    if isinstance(spec, list | tuple):
        spec = {"choices": list(spec)}
    if not isinstance(spec, Mapping):
        raise ConfigError(f"{at}: give a list of choices or a mapping with low/high, not {spec!r}")
    unknown = sorted(set(map(str, spec)) - _KEYS)
    if unknown:
        raise ConfigError(f"{at}: unknown key {unknown[0]!r} (known: {', '.join(sorted(_KEYS))})")
    kind = spec.get("type")
    if kind is not None and kind not in ("float", "int", "categorical"):
        raise ConfigError(f"{at}: type must be float, int or categorical, not {kind!r}")
    if "choices" in spec or kind == "categorical":
        return _categorical(name, spec, at)
    if "low" not in spec or "high" not in spec:
        raise ConfigError(f"{at}: a range needs low and high (or give a list of choices)")
    low, high = _number(spec["low"], at, "low"), _number(spec["high"], at, "high")
    step = _number(spec["step"], at, "step") if spec.get("step") is not None else None
    log = spec.get("log", False)
    if not isinstance(log, bool):
        raise ConfigError(f"{at}: log must be true or false, not {log!r}")
    if kind is None:
        ints = all(isinstance(v, int) for v in (low, high, *(() if step is None else (step,))))
        kind = "int" if ints else "float"
    assert kind in ("int", "float")
    if kind == "int":
        if any(float(v) != int(v) for v in (low, high, *(() if step is None else (step,)))):
            raise ConfigError(f"{at}: an int range needs integer low, high and step")
        low, high = int(low), int(high)
        step = int(step) if step is not None else None
    if not low < high:
        raise ConfigError(f"{at}: low ({_fmt(low)}) must be below high ({_fmt(high)})")
    if log and low <= 0:
        raise ConfigError(f"{at}: a log range needs low > 0, not {_fmt(low)}")
    if step is not None:
        if step <= 0:
            raise ConfigError(f"{at}: step must be > 0, not {_fmt(step)}")
        if log:
            raise ConfigError(f"{at}: a range cannot have both step and log")
        if not _on_step(high, low, step):
            raise ConfigError(
                f"{at}: high ({_fmt(high)}) must be low plus a whole number of steps "
                f"({_fmt(low)} + k × {_fmt(step)})"
            )
    num: Kind = "int" if kind == "int" else "float"
    p = Param(name, num, float(low) if kind == "float" else low, high, log, step)
    grid = spec.get("grid")
    values = _grid_values(p) if grid is None else _given_grid(p, grid, at)
    return Param(p.name, p.kind, p.low, p.high, p.log, p.step, (), tuple(values))


def _categorical(name: str, spec: Mapping[str, Any], at: str) -> Param:
    extra = sorted({"low", "high", "log", "step"} & set(spec))
    if extra:
        raise ConfigError(f"{at}: a categorical parameter takes no {extra[0]!r}")
    choices = spec.get("choices")
    if not isinstance(choices, list | tuple) or not choices:
        raise ConfigError(f"{at}: choices must be a non-empty list")
    for c in choices:
        if c is not None and not isinstance(c, bool | int | float | str):
            raise ConfigError(
                f"{at}: choices must be numbers, strings, booleans or null, not {c!r}"
            )
    if len({(type(c), c) for c in choices}) != len(choices):
        raise ConfigError(f"{at}: a choice is listed twice")
    grid = spec.get("grid", choices)
    if not isinstance(grid, list | tuple) or not grid:
        raise ConfigError(f"{at}: grid must be a non-empty list")
    missing = [g for g in grid if not any(type(g) is type(c) and g == c for c in choices)]
    if missing:
        raise ConfigError(f"{at}: grid value {missing[0]!r} is not one of the choices")
    for i, g in enumerate(grid):
        if any(type(g) is type(h) and g == h for h in grid[:i]):
            raise ConfigError(f"{at}: grid value {g!r} is listed twice")
    return Param(name, "categorical", choices=tuple(choices), grid=tuple(grid))


def _given_grid(p: Param, grid: Any, at: str) -> list[Any]:
    if not isinstance(grid, list | tuple) or not grid:
        raise ConfigError(f"{at}: grid must be a non-empty list")
    assert p.low is not None and p.high is not None
    out: list[Any] = []
    for g in grid:
        v = _number(g, at, "grid value")
        if p.kind == "int":
            if float(v) != int(v):
                raise ConfigError(f"{at}: grid value {_fmt(v)} is not an integer")
            v = int(v)
        else:
            v = float(v)
        if not p.low <= v <= p.high:
            raise ConfigError(
                f"{at}: grid value {_fmt(v)} is outside [{_fmt(p.low)}, {_fmt(p.high)}]"
            )
        if p.step is not None and not _on_step(v, p.low, p.step):
            raise ConfigError(
                f"{at}: grid value {_fmt(v)} is not on the step ({_fmt(p.low)} + k × "
                f"{_fmt(p.step)})"
            )
        if v in out:
            raise ConfigError(f"{at}: grid value {_fmt(v)} is listed twice")
        out.append(v)
    return out


def _grid_values(p: Param) -> list[Any]:
    """``DEFAULT_GRID_POINTS`` points from low to high (geometric when log), on the step."""
    assert p.low is not None and p.high is not None
    lo, hi, n = float(p.low), float(p.high), DEFAULT_GRID_POINTS
    if p.log:
        raw = [
            math.exp(math.log(lo) + (math.log(hi) - math.log(lo)) * i / (n - 1)) for i in range(n)
        ]
    else:
        raw = [lo + (hi - lo) * i / (n - 1) for i in range(n)]
    out: list[Any] = []
    for v in raw:
        if p.step is not None:
            v = lo + round((v - lo) / p.step) * p.step
            v = min(v, hi)
        if p.kind == "int":
            v = round(v)
        else:
            v = float(f"{v:.6g}")  # 0.0054772… → 0.00547723: readable, still in range
            v = min(max(v, lo), hi)
        if v not in out:
            out.append(v)
    return out


def _on_step(value: float, low: float, step: float) -> bool:
    """Whether ``value`` is ``low + k × step`` for a whole ``k`` (to float rounding)."""
    k = (value - low) / step
    return abs(k - round(k)) <= 1e-9 * max(1.0, abs(k))


def _number(value: Any, at: str, what: str) -> float | int:
    if isinstance(value, bool):
        raise ConfigError(f"{at}: {what} must be a number, not {value!r}")
    if isinstance(value, str):  # YAML 1.1 reads 1e-4 as a string
        try:
            value = float(value)
        except ValueError:
            raise ConfigError(f"{at}: {what} must be a number, not {value!r}") from None
    if not isinstance(value, int | float) or not math.isfinite(value):
        raise ConfigError(f"{at}: {what} must be a finite number, not {value!r}")
    return value


def _fmt(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)
