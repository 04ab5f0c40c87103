"""The sensor contract: what every energy source gives the sampler.

A sensor only reads. It is opened with its roots and modules as parameters (``/sys``,
``/proc``, the ``pynvml`` module, ...), so tests and containers with a mounted sysfs use
the same code as a bare-metal host. Units are converted once, here at the edge: a sensor
returns joules and watts, never micro-joules or milliwatts.

Two kinds of domain:

* ``counter``: the sensor returns ``energy_j``, the cumulative energy since the sensor was
  opened, already corrected for counter wrap-around;
* ``power``: the sensor returns ``power_w``, the instantaneous power, which the integrator
  turns into energy with the trapezoid rule.

Estimated domains also give ``power_low_w``/``power_high_w``, the model's range.
"""

from __future__ import annotations

import abc
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, TypeVar

from wattwise.exceptions import SensorError, SensorPermissionError
from wattwise.units import Component, Method

__all__ = ["Domain", "DomainKind", "Reading", "Sensor", "SensorProbe"]

DomainKind = Literal["counter", "power"]
_S = TypeVar("_S", bound="Sensor")


@dataclass(frozen=True)
class Domain:
    """One thing a sensor can read, e.g. CPU package 0, DRAM, GPU 1.

    Attributes:
        key: unique and stable across runs, ``"<sensor>:<name>"``, e.g. ``"rapl:package-0"``.
        component: which component the energy is booked to.
        label: human-readable description shown in reports.
        method: ``measured`` for a hardware sensor, ``estimated`` for the model.
        kind: ``counter`` (cumulative ``energy_j``) or ``power`` (instantaneous ``power_w``).
        model: for estimates, the model and its constants, as shown in reports.
    """

    key: str
    component: Component
    label: str
    method: Method
    kind: DomainKind
    model: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True)
class Reading:
    """One domain's value at one sampler tick.

    Attributes:
        domain: the :attr:`Domain.key` it belongs to.
        energy_j: counter domains: cumulative energy since the sensor opened (J).
        power_w: power domains: instantaneous power (W).
        power_low_w: estimates: low end of the model's range (W).
        power_high_w: estimates: high end of the model's range (W).
        energy_low_j: estimated counters: low end of the cumulative energy (J).
        energy_high_j: estimated counters: high end of the cumulative energy (J).
    """

    domain: str
    energy_j: float | None = None
    power_w: float | None = None
    power_low_w: float | None = None
    power_high_w: float | None = None
    energy_low_j: float | None = None
    energy_high_j: float | None = None


@dataclass(frozen=True)
class SensorProbe:
    """What probing a sensor on this machine found, for ``wattwise sensors``.

    Attributes:
        sensor: the sensor's name.
        available: whether it can be opened and read now.
        domains: the domains it would read (empty when unavailable).
        detail: what was found, or why it cannot be read.
        fix: the exact step that would make it readable, when there is one.
    """

    sensor: str
    available: bool
    domains: tuple[Domain, ...] = ()
    detail: str = ""
    fix: str | None = None


class Sensor(abc.ABC):
    """A read-only energy source.

    Subclasses set :attr:`name`, take their roots/modules as keyword parameters in
    ``__init__`` (raising :class:`~wattwise.exceptions.SensorError` when they cannot be
    opened) and accept the same keywords in :meth:`probe`.
    """

    name: ClassVar[str]
    permission_fix: ClassVar[str | None] = None
    """The fix :meth:`probe` gives for a permission error that carries none of its own."""

    @classmethod
    def probe(cls, **params: Any) -> SensorProbe:
        """Look at this machine without raising: what is there, what is not, and the fix.

        The default opens the sensor with ``params`` and reports its domains and
        :meth:`describe`, or the ``SensorError``'s detail and fix.
        """
        try:
            sensor = cls(**params)
        except SensorError as exc:
            fix = exc.fix
            if fix is None and isinstance(exc, SensorPermissionError):
                fix = cls.permission_fix
            return SensorProbe(cls.name, False, detail=exc.detail, fix=fix)
        except Exception as exc:  # probe never raises
            return SensorProbe(cls.name, False, detail=f"{cls.name} probe failed: {exc!r}")
        with sensor:
            return SensorProbe(cls.name, True, tuple(sensor.domains()), sensor.describe())

    def describe(self) -> str:
        """One line on what this sensor reads (shown by ``wattwise sensors``)."""
        return ", ".join(d.label for d in self.domains())

    @abc.abstractmethod
    def domains(self) -> Sequence[Domain]:
        """The domains :meth:`read` returns readings for."""

    @abc.abstractmethod
    def read(self) -> list[Reading]:
        """Read every domain now. Raises ``SensorError`` when the hardware fails."""

    def process_share(self, pids: Collection[int]) -> dict[str, float]:
        """Fraction (0..1) of each domain's recent energy due to ``pids``, where known.

        Sensors that cannot tell (RAPL, hwmon) return ``{}``; the sampler then attributes
        by CPU-time and memory share instead.
        """
        del pids
        return {}

    def close(self) -> None:  # noqa: B027 - optional hook, most sensors hold nothing
        """Release handles. Idempotent."""

    def __enter__(self: _S) -> _S:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
