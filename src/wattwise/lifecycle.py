"""A model's life cycle energy: training once, then inference every day it serves.

::

    inference kWh = queries per day × energy per query (Wh) × days / 1000
    total kWh     = training kWh + inference kWh
    parity        = training kWh × 1000 / energy per query (Wh)      [queries]

The parity point is the number of inferences whose energy equals the training energy,
the comparison Luccioni, Jernite & Strubell make in "Power Hungry Processing: Watts
Driving the Cost of AI Deployment?" (ACM FAccT 2024, doi:10.1145/3630106.3658542,
arXiv:2311.16863): past it, serving the model has cost more energy than training it.

Both figures must be on one energy basis, stated in :attr:`Lifecycle.energy_basis`:
``facility`` (IT × PUE, what emissions are computed from; the default, and what
:func:`query_energy_from_run` gives) or ``it`` (what the devices drew). Mixing a
facility training figure with an IT per-query figure would skew the shares by the PUE.

The model is linear: a constant energy per query (no batching or load effects), no idle
serving capacity, no retraining or fine-tuning after the first training, and no
embodied emissions (SCI's ``M``, :mod:`wattwise.embodied`, is reported apart).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Literal

from wattwise.exceptions import ConfigError
from wattwise.units import significant as _sig

if TYPE_CHECKING:
    from wattwise.record import RunRecord

__all__ = ["PARITY_SOURCE", "EnergyBasis", "Lifecycle", "lifecycle", "query_energy_from_run"]

EnergyBasis = Literal["facility", "it"]
"""``facility``: IT energy × PUE; ``it``: the devices' own draw."""

PARITY_SOURCE = (
    "Luccioni, Jernite & Strubell 2024, 'Power Hungry Processing: Watts Driving the Cost "
    "of AI Deployment?', ACM FAccT '24 (doi:10.1145/3630106.3658542, arXiv:2311.16863)"
)
"""Where the parity point (inferences whose energy equals the training energy) comes from."""

_BASES: tuple[EnergyBasis, ...] = ("facility", "it")
_BASIS_WORDS = {"facility": "facility energy (IT × PUE)", "it": "IT energy (no PUE)"}


def _number(name: str, value: float, *, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"invalid {name}={value!r}: must be a number")
    v = float(value)
    if not math.isfinite(v) or v < 0 or (positive and v == 0):
        rule = "> 0" if positive else ">= 0"
        raise ConfigError(f"invalid {name}={value!r}: must be a finite number {rule}")
    return v


def _basis(value: str) -> EnergyBasis:
    for basis in _BASES:
        if value == basis:
            return basis
    raise ConfigError(f"invalid energy_basis={value!r}: must be one of facility, it")


@dataclass(frozen=True)
class Lifecycle:
    """Training and inference energy over a deployment, their shares, and the parity point.

    Attributes:
        training_kwh: energy of training (once), kWh.
        energy_per_query_wh: energy of one inference, Wh.
        query_energy_source: where that figure comes from, in words.
        queries_per_day: inferences served per day.
        days: days the model serves.
        energy_basis: ``facility`` or ``it``; both figures are on this basis.
        inference_kwh: queries per day × Wh per query × days / 1000.
        total_kwh: training + inference.
        training_share, inference_share: their shares of the total (sum to 1).
        parity_queries: inferences whose energy equals the training energy (None when a
            query takes no energy).
        parity_days: days of serving to reach it (None without queries or parity).
    """

    training_kwh: float
    energy_per_query_wh: float
    query_energy_source: str
    queries_per_day: float
    days: float
    energy_basis: EnergyBasis
    inference_kwh: float
    total_kwh: float
    training_share: float
    inference_share: float
    parity_queries: float | None
    parity_days: float | None

    @property
    def total_queries(self) -> float:
        """Inferences served over the deployment."""
        return self.queries_per_day * self.days

    @property
    def parity_reached(self) -> bool:
        """Whether the deployment serves at least the parity number of queries."""
        return self.parity_queries is not None and self.total_queries >= self.parity_queries

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        d = asdict(self)
        d["total_queries"] = self.total_queries
        d["parity_reached"] = self.parity_reached
        d["parity_source"] = PARITY_SOURCE
        return d

    def lines(self) -> list[str]:
        """Short human-readable lines: training, inference, total, parity."""
        basis = _BASIS_WORDS[self.energy_basis]
        out = [
            f"training: {_sig(self.training_kwh)} kWh ({self.training_share:.1%})",
            (
                f"inference: {_sig(self.inference_kwh)} kWh ({self.inference_share:.1%}) = "
                f"{_sig(self.queries_per_day)} queries/day × "
                f"{_sig(self.energy_per_query_wh)} Wh/query × {_sig(self.days)} days"
            ),
            f"energy per query: {self.query_energy_source}",
            f"total: {_sig(self.total_kwh)} kWh, all {basis}",
        ]
        if self.parity_queries is None:
            out.append("parity: none (a query takes no energy)")
            return out
        parity = (
            f"parity: inference energy equals training energy after "
            f"{_sig(self.parity_queries)} queries"
        )
        if self.parity_days is None:
            parity += " (no queries served, so never reached)"
        elif self.parity_reached:
            parity += f", reached on day {_sig(self.parity_days)} of {_sig(self.days)}"
        else:
            parity += (
                f", {_sig(self.parity_days)} days at this rate: not reached in "
                f"{_sig(self.days)} days"
            )
        out.append(parity + " (parity as in Luccioni, Jernite & Strubell 2024)")
        return out


def lifecycle(
    training_kwh: float,
    *,
    energy_per_query_wh: float,
    queries_per_day: float,
    days: float,
    query_energy_source: str = "given by the user",
    energy_basis: EnergyBasis = "facility",
) -> Lifecycle:
    """Training plus inference energy over ``days`` of serving ``queries_per_day``.

    Every number must be finite and >= 0 (:class:`ConfigError` otherwise), and training
    and inference cannot both be zero. ``energy_basis`` says whether both the training
    figure and the per-query figure are facility energy (IT × PUE) or IT energy; give
    both on the same basis.
    """
    train = _number("training_kwh", training_kwh)
    per_query = _number("energy_per_query_wh", energy_per_query_wh)
    qpd = _number("queries_per_day", queries_per_day)
    n_days = _number("days", days)
    basis = _basis(energy_basis)
    inference = qpd * per_query * n_days / 1000.0
    total = train + inference
    if total == 0:
        raise ConfigError("nothing to compare: training and inference energy are both 0")
    parity = train * 1000.0 / per_query if per_query > 0 else None
    parity_days = parity / qpd if parity is not None and qpd > 0 else None
    return Lifecycle(
        training_kwh=train,
        energy_per_query_wh=per_query,
        query_energy_source=str(query_energy_source),
        queries_per_day=qpd,
        days=n_days,
        energy_basis=basis,
        inference_kwh=inference,
        total_kwh=total,
        training_share=train / total,
        inference_share=inference / total,
        parity_queries=parity,
        parity_days=parity_days,
    )


def query_energy_from_run(
    record: RunRecord, queries: int, *, basis: EnergyBasis = "facility"
) -> tuple[float, str]:
    """Wh per query from a measured wattwise inference run that served ``queries``.

    The energy is the run's headline footprint (whole machine or the tracked processes,
    as the run's ``headline`` says) on ``basis``: ``facility`` (IT × the run's PUE, the
    energy its emissions were computed from; the default) or ``it``. Returns the Wh per
    query and a sentence naming the run, the energy, its basis and its method, to pass as
    :func:`lifecycle`'s ``query_energy_source`` with the same ``energy_basis``.
    """
    b = _basis(basis)
    if isinstance(queries, bool) or not isinstance(queries, int) or queries < 1:
        raise ConfigError(f"invalid queries={queries!r}: must be a whole number >= 1")
    fp = record.footprint
    energy_j = fp.facility_energy_j if b == "facility" else fp.energy_j
    if not (math.isfinite(energy_j) and energy_j > 0):
        raise ConfigError(
            f"run {record.id} has no {_BASIS_WORDS[b]} to divide (energy {energy_j!r} J, "
            f"method {fp.method})"
        )
    wh = energy_j / 3600.0 / queries
    pue = f", PUE {fp.pue:g}" if b == "facility" else ""
    source = (
        f"measured: wattwise run {record.id} ({record.name!r}), {record.headline} "
        f"{_BASIS_WORDS[b]} {_sig(energy_j / 3600.0)} Wh ({fp.method}{pue}) / "
        f"{queries:,} queries = {_sig(wh)} Wh/query"
    )
    return wh, source
