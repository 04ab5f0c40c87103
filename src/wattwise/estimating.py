"""The footprint of a training run before it runs: kWh, gCO2e and cost from a plan.

Four ways in, one result (:class:`Estimate`):

``hardware``
    devices × average power × hours, the average power being the catalogue TDP ×
    ``utilisation`` (the average draw as a share of TDP);
``power``
    an average power you know (a wall meter, a previous run, a paper) × hours: how
    Strubell et al. (2019) computed;
``flops``
    a training compute (FLOPs, or 6 × parameters × tokens for a dense transformer,
    Kaplan et al. 2020), divided by the devices' peak FLOP/s from the catalogue × the
    model FLOPs utilisation (MFU) to get the hours, then as ``hardware``;
``run``
    a measured wattwise run, scaled to more data, more epochs or more devices.

IT energy is what the devices draw; facility energy is IT × PUE; emissions are facility
kWh × the zone's intensity. Every input that was not given is defaulted from a
published figure, shown in :attr:`Estimate.assumptions`, and the defaulted inputs that
are uncertain (utilisation, MFU, scaling efficiency) span the low–high range. Inputs the
user gives are taken as exact, and the assumptions say so.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from wattwise.catalogue import HardwareEntry, lookup
from wattwise.exceptions import ConfigError
from wattwise.units import G_PER_LB

__all__ = [
    "MFU",
    "POWER_FRACTION",
    "SCALING_EFFICIENCY",
    "Assumption",
    "Band",
    "CarbonBasis",
    "Estimate",
    "Method",
    "Precision",
    "carbon_basis",
    "estimate",
    "parse_intensity",
    "peak_tflops",
    "transformer_flops",
]

Method = Literal["hardware", "power", "flops", "run"]
Precision = Literal["fp16", "fp32"]


@dataclass(frozen=True)
class Band:
    """A defaulted input: its central value and the low–high range it spans."""

    central: float
    low: float
    high: float
    source: str


POWER_FRACTION = Band(
    0.8,
    0.6,
    1.0,
    "average draw as a share of TDP during training, a planning band rather than a fit. "
    "Published per-device averages, each with the host's share included so the device's own "
    "draw is lower: Strubell et al. 2019 Table 3, 0.63-0.76 of TDP (P100: 1415.78-1515.43 W "
    "/ 8 GPUs / 250 W; BERT on V100: 12041.51 W / 64 / 300 W); Patterson et al. 2021 Table "
    "4, 1.1 (330 W per 300 W V100). Central 0.8, range 0.6-1.0",
)
"""Default utilisation (average power / TDP) and its range."""

MFU = Band(
    0.3,
    0.2,
    0.46,
    "model FLOPs utilisation of large-model training. Chowdhery et al. 2022 (PaLM), "
    "Table 3: GPT-3 21.3 %, Gopher 32.5 %, Megatron-Turing NLG 30.2 %, PaLM 46.2 %. "
    "Central 0.3, range 0.2-0.46",
)
"""Default model FLOPs utilisation and its range."""

SCALING_EFFICIENCY = Band(
    0.9,
    0.7,
    1.0,
    "work done per device when going to more devices, relative to the measured run "
    "(data-parallel scaling loses to communication and stragglers; 0.9 central, 0.7-1.0)",
)
"""Default efficiency when a measured run is scaled to more devices."""


@dataclass(frozen=True)
class Assumption:
    """One input of an estimate, its value and where the value comes from."""

    name: str
    value: str
    source: str

    def to_dict(self) -> dict[str, str]:
        """JSON-ready fields."""
        return {"name": self.name, "value": self.value, "source": self.source}


@dataclass(frozen=True)
class CarbonBasis:
    """What turns IT kWh into facility kWh, gCO2e and money."""

    zone: str
    zone_name: str
    zone_detail: str
    intensity_g_per_kwh: float
    intensity_source: str
    pue: float
    pue_source: str
    price_per_kwh: float
    currency: str
    price_source: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return dict(self.__dict__)


@dataclass(frozen=True)
class Estimate:
    """A training run's footprint, estimated before it runs.

    Attributes:
        method: ``hardware``, ``power``, ``flops`` or ``run``.
        description: the job in words (``8 × A100 SXM4 80 GB for 72 h``).
        hours: the job's wall-clock duration (central).
        hours_low, hours_high: its range (differs only when computed from FLOPs).
        it_energy_kwh: energy the devices draw (central).
        it_energy_low_kwh, it_energy_high_kwh: its range from the defaulted inputs.
        power_w: average IT power of the whole job (central).
        carbon: zone, intensity, PUE and price used.
        assumptions: every input, its value and source.
        hardware: the catalogue entry, when one was used.
        count: how many devices (1 for ``power``).
        flops: the training compute, when known.
        host_power_w: hosts' power added to the devices' (W, whole job).
        given: the uncertain inputs the user pinned (``utilisation``, ``mfu``,
            ``scaling_efficiency``): exact, so outside the range.
        embodied_g: SCI's embodied term ``M`` for the hardware reserved, when asked for;
            shown beside the operational emissions, never added to them.
        embodied_formula: ``M``'s computation in words, when computed.
    """

    method: Method
    description: str
    hours: float
    hours_low: float
    hours_high: float
    it_energy_kwh: float
    it_energy_low_kwh: float
    it_energy_high_kwh: float
    power_w: float
    carbon: CarbonBasis
    assumptions: tuple[Assumption, ...]
    hardware: HardwareEntry | None = None
    count: int = 1
    flops: float | None = None
    precision: Precision | None = None
    mfu: float | None = None
    utilisation: float | None = None
    host_power_w: float = 0.0
    given: tuple[str, ...] = ()
    embodied_g: float | None = None
    embodied_low_g: float | None = None
    embodied_high_g: float | None = None
    embodied_formula: str | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def facility_energy_kwh(self) -> float:
        """IT energy × PUE."""
        return self.it_energy_kwh * self.carbon.pue

    @property
    def facility_energy_low_kwh(self) -> float:
        return self.it_energy_low_kwh * self.carbon.pue

    @property
    def facility_energy_high_kwh(self) -> float:
        return self.it_energy_high_kwh * self.carbon.pue

    @property
    def co2e_g(self) -> float:
        """Operational emissions: facility kWh × intensity."""
        return self.facility_energy_kwh * self.carbon.intensity_g_per_kwh

    @property
    def co2e_low_g(self) -> float:
        return self.facility_energy_low_kwh * self.carbon.intensity_g_per_kwh

    @property
    def co2e_high_g(self) -> float:
        return self.facility_energy_high_kwh * self.carbon.intensity_g_per_kwh

    @property
    def cost(self) -> float:
        """Facility kWh × price."""
        return self.facility_energy_kwh * self.carbon.price_per_kwh

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (``wattwise estimate --json``)."""
        return {
            "method": self.method,
            "description": self.description,
            "hours": {"central": self.hours, "low": self.hours_low, "high": self.hours_high},
            "power_w": self.power_w,
            "it_energy_kwh": _trio(
                self.it_energy_kwh, self.it_energy_low_kwh, self.it_energy_high_kwh
            ),
            "facility_energy_kwh": _trio(
                self.facility_energy_kwh,
                self.facility_energy_low_kwh,
                self.facility_energy_high_kwh,
            ),
            "co2e_g": _trio(self.co2e_g, self.co2e_low_g, self.co2e_high_g),
            "cost": _trio(
                self.cost,
                self.facility_energy_low_kwh * self.carbon.price_per_kwh,
                self.facility_energy_high_kwh * self.carbon.price_per_kwh,
            ),
            "currency": self.carbon.currency,
            "carbon": self.carbon.to_dict(),
            "hardware": None if self.hardware is None else self.hardware.to_dict(),
            "count": self.count,
            "flops": self.flops,
            "precision": self.precision,
            "mfu": self.mfu,
            "utilisation": self.utilisation,
            "embodied": None
            if self.embodied_g is None
            else {
                "co2e_g": self.embodied_g,
                "co2e_low_g": self.embodied_low_g,
                "co2e_high_g": self.embodied_high_g,
                "formula": self.embodied_formula,
                "included_in_co2e": False,
            },
            "assumptions": [a.to_dict() for a in self.assumptions],
            "notes": list(self.notes),
        }


def _trio(central: float, low: float, high: float) -> dict[str, float]:
    return {"central": central, "low": low, "high": high}


# -- inputs ---------------------------------------------------------------------------------


def _positive(value: float | None, name: str, *, allow_zero: bool = False) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{name} must be a number, not {value!r}")
    ok = value >= 0 if allow_zero else value > 0
    if not (math.isfinite(value) and ok):
        rule = "≥ 0" if allow_zero else "> 0"
        raise ConfigError(f"{name} must be a finite number {rule}, not {value!r}")
    return float(value)


def _fraction(value: float | None, name: str, upper: float) -> float | None:
    value = _positive(value, name)
    if value is not None and value > upper:
        raise ConfigError(f"{name} must be in (0, {upper:g}], not {value!r}")
    return value


def transformer_flops(params: float, tokens: float) -> float:
    """Training compute of a dense transformer: 6 × parameters × tokens (Kaplan et al.
    2020, "Scaling Laws for Neural Language Models", section 2.1: 2 FLOPs per parameter per
    token forward, 4 backward)."""
    n = _positive(params, "params")
    d = _positive(tokens, "tokens")
    assert n is not None and d is not None
    flops = 6.0 * n * d
    if not math.isfinite(flops):
        raise ConfigError(f"6 × params × tokens overflows ({params:g} × {tokens:g})")
    return flops


def peak_tflops(entry: HardwareEntry, precision: Precision) -> tuple[float, Precision]:
    """The entry's peak TFLOP/s at ``precision``, else at the other one (said in the
    returned precision); ConfigError when the catalogue has neither."""
    first, other = (
        (entry.tflops_fp16, entry.tflops_fp32)
        if precision == "fp16"
        else (entry.tflops_fp32, entry.tflops_fp16)
    )
    if first:
        return first, precision
    if other:
        return other, "fp32" if precision == "fp16" else "fp16"
    raise ConfigError(
        f"the catalogue has no peak FLOP/s for {entry.name!r}: estimate from hardware and "
        "hours, or add tflops_fp16/tflops_fp32 in a hardware file (--file)"
    )


_UNITS = {"g": 1.0, "kg": 1000.0, "t": 1e6, "lb": G_PER_LB, "lbs": G_PER_LB}
_INTENSITY = re.compile(
    r"^\s*([0-9]*\.?[0-9]+(?:e[-+]?\d+)?)\s*(?:(g|kg|t|lbs?)\s*(?:co2e?)?\s*/\s*(kwh|mwh))?\s*$",
    re.IGNORECASE,
)


def parse_intensity(text: str | float) -> float:
    """A carbon intensity in gCO2e/kWh from ``432.7``, ``"0.954 lbs/kWh"``,
    ``"0.429 kg/kWh"``, ``"429 g/kWh"`` or ``"0.4 t/MWh"``; ConfigError otherwise."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        value = float(text)
    else:
        match = _INTENSITY.match(str(text))
        if match is None:
            raise ConfigError(
                f"cannot read the intensity {text!r}: give gCO2e/kWh (432.7) or a unit "
                "(0.954 lbs/kWh, 0.429 kg/kWh, 0.4 t/MWh)"
            )
        value = float(match.group(1))
        if match.group(2):
            per = 1000.0 if match.group(3).lower() == "mwh" else 1.0
            value = value * _UNITS[match.group(2).lower()] / per
    if not (math.isfinite(value) and 0 <= value <= 3000):
        raise ConfigError(f"intensity {text!r} is outside 0-3,000 gCO2e/kWh")
    return value


def carbon_basis(
    *,
    zone: str | None = None,
    pue: float | None = None,
    intensity: str | float | None = None,
    price_per_kwh: float | None = None,
    currency: str | None = None,
    setting: str = "datacenter",
    environ: Mapping[str, str] | None = None,
) -> CarbonBasis:
    """The zone, intensity, PUE and price of an estimate.

    The zone is resolved as for a run (argument, then environment, then timezone, then
    the world average), but the PUE defaults to a data centre's (``setting``), since a
    planned training job runs in one; a cloud region brings its own PUE.
    """
    from wattwise.carbon import DEFAULT_CURRENCY, DEFAULT_PRICE_PER_KWH, resolve_pue, resolve_zone

    choice = resolve_zone(zone, environ=environ)
    pue_choice = resolve_pue(pue, zone_choice=choice, setting=setting, environ=environ)  # type: ignore[arg-type]
    z = choice.zone
    if intensity is not None:
        g = parse_intensity(intensity)
        intensity_source = f"given by the user ({intensity})"
    else:
        g = z.intensity_g_per_kwh
        intensity_source = f"{z.id} annual average {z.year}: {z.source}"
    if currency is not None and price_per_kwh is None:
        raise ConfigError("give the price (price_per_kwh) in that currency with the currency")
    if price_per_kwh is not None:
        price = _positive(price_per_kwh, "price_per_kwh", allow_zero=True)
        assert price is not None
        price_source = "given by the user"
    else:
        price, price_source = DEFAULT_PRICE_PER_KWH, "world-average placeholder (set --price)"
    return CarbonBasis(
        zone=z.id,
        zone_name=z.name,
        zone_detail=choice.detail,
        intensity_g_per_kwh=g,
        intensity_source=intensity_source,
        pue=pue_choice.value,
        pue_source="given by the user" if pue_choice.source == "user" else pue_choice.source,
        price_per_kwh=price,
        currency=currency or DEFAULT_CURRENCY,
        price_source=price_source,
    )


# -- the estimate ---------------------------------------------------------------------------


def estimate(
    *,
    hardware: str | HardwareEntry | None = None,
    count: int | None = None,
    hours: float | None = None,
    utilisation: float | None = None,
    power_w: float | None = None,
    device_power_w: float | None = None,
    flops: float | None = None,
    params: float | None = None,
    tokens: float | None = None,
    mfu: float | None = None,
    precision: Precision = "fp16",
    run: Any = None,
    scale_data: float = 1.0,
    scale_epochs: float = 1.0,
    devices: int | None = None,
    scaling_efficiency: float | None = None,
    host_power_w: float = 0.0,
    carbon: CarbonBasis | None = None,
    hardware_file: str | None = None,
    embodied: bool | Any = False,
) -> Estimate:
    """Estimate a training run's energy, emissions and cost before it runs.

    Give one of:

    - ``hardware`` + ``hours`` (+ ``count``, ``utilisation``);
    - ``power_w`` + ``hours``, or ``device_power_w`` (a measured average per device, as
      Patterson et al. 2021 give it) + ``count`` + ``hours``, with or without ``hardware``;
    - ``flops`` (or ``params`` + ``tokens``) + ``hardware`` (+ ``count``, ``mfu``,
      ``precision``);
    - ``run`` (a :class:`~wattwise.record.RunRecord`) with ``scale_data``,
      ``scale_epochs`` and ``devices``.

    ``host_power_w`` adds the hosts' CPU, memory and fans (W, the whole job) to the
    device power. ``carbon`` (from :func:`carbon_basis`) sets zone, intensity, PUE and
    price; default: the resolved zone with a data centre's PUE. ``embodied=True`` adds
    SCI's ``M`` for the devices reserved, from the documented default per device class
    (or pass :class:`~wattwise.embodied.EmbodiedInputs` for one device); shown apart,
    never added to the emissions.

    Raises ConfigError for missing, conflicting or out-of-range inputs and
    :class:`~wattwise.catalogue.UnknownHardwareError` (with the closest names) for an
    unknown device.
    """
    basis = carbon if carbon is not None else carbon_basis()
    host = _positive(host_power_w, "host_power_w", allow_zero=True) or 0.0
    has_flops = flops is not None or params is not None or tokens is not None
    forms = [
        name
        for name, given in (
            ("a measured run", run is not None),
            ("an average power", power_w is not None or device_power_w is not None),
            ("training FLOPs", has_flops),
        )
        if given
    ]
    if len(forms) > 1:
        raise ConfigError(f"give one of {' or '.join(forms)}, not both")
    _refuse_unused(
        run=run is not None,
        power=power_w is not None,
        flops=has_flops,
        given={
            "hardware": hardware,
            "count": count,
            "hours": hours,
            "utilisation": utilisation,
            "mfu": mfu,
            "device_power_w": device_power_w,
            "devices": devices,
            "scaling_efficiency": scaling_efficiency,
            "scale_data": None if scale_data == 1.0 else scale_data,
            "scale_epochs": None if scale_epochs == 1.0 else scale_epochs,
        },
    )
    if count is None:
        count = 1
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ConfigError(f"count must be an integer ≥ 1, not {count!r}")
    if run is not None:
        est = _from_run(run, scale_data, scale_epochs, devices, scaling_efficiency, host, basis)
    elif power_w is not None:
        if hardware is not None or device_power_w is not None:
            raise ConfigError(
                "give the job's average power (power_w) or a hardware name or a power per "
                "device (device_power_w), not both"
            )
        est = _from_power(power_w, hours, host, basis)
    elif device_power_w is not None and hardware is None:
        each = _positive(device_power_w, "device_power_w")
        assert each is not None
        est = _from_power(each * count, hours, host, basis, per_device=(each, count))
    elif has_flops:
        est = _from_flops(
            flops,
            params,
            tokens,
            hardware,
            count,
            hours,
            mfu,
            precision,
            utilisation,
            host,
            basis,
            hardware_file,
        )
    elif hardware is not None:
        est = _from_hardware(
            hardware, count, hours, utilisation, host, basis, hardware_file, device_power_w
        )
    else:
        raise ConfigError(
            "nothing to estimate from: give a hardware name and hours, an average power and "
            "hours, training FLOPs (or params and tokens) with a hardware name, or a run"
        )
    _check_finite(est)
    if embodied is not False and embodied is not None:
        est = _with_embodied(est, embodied)
    return est


# the inputs each form uses; any other one given is refused rather than ignored
_USES: dict[str, frozenset[str]] = {
    "run": frozenset({"devices", "scaling_efficiency", "scale_data", "scale_epochs"}),
    "power": frozenset({"hours"}),
    "device power": frozenset({"hours", "count", "device_power_w", "hardware"}),
    "flops": frozenset({"hardware", "count", "utilisation", "mfu", "device_power_w"}),
    "hardware": frozenset({"hardware", "count", "hours", "utilisation", "device_power_w"}),
}


def _refuse_unused(*, run: bool, power: bool, flops: bool, given: Mapping[str, Any]) -> None:
    """ConfigError naming an input the chosen form would silently ignore."""
    if run:
        form = "run"
    elif power:
        form = "power"
    elif given["device_power_w"] is not None and given["hardware"] is None:
        form = "device power"
    elif flops:
        form = "flops"
    else:
        form = "hardware"
    unused = [k for k, v in given.items() if v is not None and k not in _USES[form]]
    if unused:
        words = {
            "run": "a measured run",
            "power": "the job's average power (power_w; for one per device use "
            "device_power_w with count)",
            "device power": "a power per device",
            "flops": "training FLOPs (hours follow from them)",
            "hardware": "hardware and hours",
        }[form]
        names = unused[0] if len(unused) == 1 else f"{', '.join(unused[:-1])} and {unused[-1]}"
        verb = "does" if len(unused) == 1 else "do"
        raise ConfigError(f"{names} {verb} not apply to an estimate from {words}")


def _check_finite(est: Estimate) -> None:
    figures = (est.hours_low, est.hours_high, est.it_energy_low_kwh, est.it_energy_high_kwh)
    if not all(math.isfinite(x) for x in (*figures, est.hours, est.it_energy_kwh)):
        raise ConfigError(
            f"the inputs give no finite result ({est.description}): check their magnitudes"
        )


def _entry(hardware: str | HardwareEntry, hardware_file: str | None) -> HardwareEntry:
    if isinstance(hardware, HardwareEntry):
        return hardware
    from wattwise.catalogue import catalogue

    entries = catalogue(hardware_file) if hardware_file else None
    return lookup(str(hardware), entries=entries)


def _device_power(
    entry: HardwareEntry, utilisation: float | None
) -> tuple[float, float, float, Assumption]:
    """One device's average power (central, low, high) and the assumption behind it."""
    if entry.tdp_w is None:
        raise ConfigError(
            f"the catalogue has no TDP for {entry.name!r}; give --power-w instead, or a "
            "hardware file (--file) with its tdp_w"
        )
    u = _fraction(utilisation, "utilisation", 1.5)
    tdp = entry.tdp_w / (entry.accelerator_count or 1)
    if u is None and entry.kind == "tpu":
        a = Assumption(
            "power per device",
            f"{tdp:g} W, the catalogue's figure used as the average draw (exact)",
            "the TPU rows hold a measured average power per chip (Patterson et al. 2021), "
            "not a TDP, so no share of it is taken",
        )
        return tdp, tdp, tdp, a
    if u is not None:
        a = Assumption("utilisation", f"{u:g} of TDP (exact)", "given by the user")
        return tdp * u, tdp * u, tdp * u, a
    band = POWER_FRACTION
    a = Assumption(
        "utilisation",
        f"{band.central:g} of TDP (range {band.low:g}-{band.high:g})",
        band.source,
    )
    return tdp * band.central, tdp * band.low, tdp * band.high, a


def _units(
    entry: HardwareEntry, count: int, hardware_file: str | None = None
) -> tuple[HardwareEntry, int, str]:
    """An instance counts as its accelerators: (device, devices, words)."""
    if entry.kind == "instance" and entry.accelerator:
        from wattwise.catalogue import catalogue

        n = count * (entry.accelerator_count or 1)
        entries = catalogue(hardware_file) if hardware_file else None
        device = lookup(entry.accelerator, kind=("gpu", "tpu"), entries=entries)
        return device, n, f"{count} × {entry.name} ({n} × {device.name})"
    return entry, count, f"{count} × {entry.name}"


def _hardware_assumptions(entry: HardwareEntry, device: HardwareEntry) -> list[Assumption]:
    tdp = "unknown" if device.tdp_w is None else f"{device.tdp_w:g} W"
    out = [Assumption("TDP", f"{tdp} per {device.name}", device.source or "catalogue")]
    if entry is not device:
        out.insert(
            0,
            Assumption(
                "instance",
                f"{entry.name}: {entry.accelerator_count} × {device.name}",
                entry.source or "catalogue",
            ),
        )
    return out


def _from_hardware(
    hardware: str | HardwareEntry,
    count: int,
    hours: float | None,
    utilisation: float | None,
    host: float,
    basis: CarbonBasis,
    hardware_file: str | None,
    device_power_w: float | None = None,
) -> Estimate:
    h = _positive(hours, "hours")
    if h is None:
        raise ConfigError("give the hours (--hours) the hardware will run, or training FLOPs")
    entry = _entry(hardware, hardware_file)
    device, n, words = _units(entry, count, hardware_file)
    if device_power_w is not None:
        if utilisation is not None:
            raise ConfigError("give a utilisation or a power per device, not both")
        each = _positive(device_power_w, "device_power_w")
        assert each is not None
        p = lo = hi = each
        u_assumption = Assumption("power per device", f"{each:g} W (exact)", "given by the user")
        utilisation = each / device.tdp_w if device.tdp_w else None
    else:
        p, lo, hi, u_assumption = _device_power(device, utilisation)
    assumptions = [
        *_hardware_assumptions(entry, device),
        u_assumption,
        Assumption("hours", f"{h:g} h", "given by the user"),
        *_host_assumption(host),
    ]
    return Estimate(
        method="hardware",
        description=f"{words} for {h:g} h",
        hours=h,
        hours_low=h,
        hours_high=h,
        it_energy_kwh=(n * p + host) * h / 1000,
        it_energy_low_kwh=(n * lo + host) * h / 1000,
        it_energy_high_kwh=(n * hi + host) * h / 1000,
        power_w=n * p + host,
        carbon=basis,
        assumptions=(*assumptions, *_carbon_assumptions(basis)),
        hardware=device,
        count=n,
        utilisation=p / device.tdp_w if device.tdp_w else None,
        host_power_w=host,
        given=("utilisation",) if utilisation is not None else (),
    )


def _host_assumption(host: float) -> list[Assumption]:
    if host:
        return [Assumption("host power", f"{host:g} W", "given by the user")]
    return [
        Assumption(
            "host power",
            "0 W: the devices only",
            "hosts' CPUs, memory and fans are not counted; add them with host_power_w "
            "(--host-power-w)",
        )
    ]


def _from_power(
    power_w: float,
    hours: float | None,
    host: float,
    basis: CarbonBasis,
    per_device: tuple[float, int] | None = None,
) -> Estimate:
    p = _positive(power_w, "power_w")
    h = _positive(hours, "hours")
    if h is None:
        raise ConfigError("give the hours (--hours) with the average power")
    assert p is not None
    total = p + host
    words = f"{p:g} W (exact)"
    if per_device is not None:
        words = f"{per_device[1]} devices × {per_device[0]:g} W = {p:g} W (exact)"
    assumptions = [
        Assumption("average power", words, "given by the user"),
        Assumption("hours", f"{h:g} h", "given by the user"),
    ]
    if host:
        assumptions.append(Assumption("host power", f"{host:g} W", "given by the user"))
    kwh = total * h / 1000
    return Estimate(
        method="power",
        description=(
            f"{per_device[1]} × {per_device[0]:g} W for {h:g} h"
            if per_device is not None
            else f"{total:g} W for {h:g} h"
        ),
        hours=h,
        hours_low=h,
        hours_high=h,
        it_energy_kwh=kwh,
        it_energy_low_kwh=kwh,
        it_energy_high_kwh=kwh,
        power_w=total,
        carbon=basis,
        assumptions=(*assumptions, *_carbon_assumptions(basis)),
        count=1 if per_device is None else per_device[1],
        host_power_w=host,
    )


def _from_flops(
    flops: float | None,
    params: float | None,
    tokens: float | None,
    hardware: str | HardwareEntry | None,
    count: int,
    hours: float | None,
    mfu: float | None,
    precision: Precision,
    utilisation: float | None,
    host: float,
    basis: CarbonBasis,
    hardware_file: str | None,
) -> Estimate:
    if hours is not None:
        raise ConfigError("give training FLOPs or hours, not both: the hours follow from FLOPs")
    if precision not in ("fp16", "fp32"):
        raise ConfigError(f"precision must be fp16 or fp32, not {precision!r}")
    if flops is not None:
        if params is not None or tokens is not None:
            raise ConfigError("give FLOPs or params and tokens, not both")
        total_flops = _positive(flops, "flops")
        assert total_flops is not None
        flops_a = Assumption("training compute", f"{total_flops:.4g} FLOPs", "given by the user")
    else:
        if params is None or tokens is None:
            raise ConfigError("give both params and tokens (6 × params × tokens FLOPs)")
        total_flops = transformer_flops(params, tokens)
        flops_a = Assumption(
            "training compute",
            f"6 × {params:.4g} params × {tokens:.4g} tokens = {total_flops:.4g} FLOPs",
            "dense transformer rule, Kaplan et al. 2020 (arXiv:2001.08361) section 2.1",
        )
    if hardware is None:
        raise ConfigError("give the hardware (--gpu) that will train, for its peak FLOP/s")
    entry = _entry(hardware, hardware_file)
    device, n, words = _units(entry, count, hardware_file)
    peak, used = peak_tflops(device, precision)
    m = _fraction(mfu, "mfu", 1.0)
    m_c, m_lo, m_hi = (m, m, m) if m is not None else (MFU.central, MFU.low, MFU.high)
    per_s = n * peak * 1e12
    h_c, h_fast, h_slow = (total_flops / (per_s * x) / 3600 for x in (m_c, m_hi, m_lo))
    p, lo, hi, u_assumption = _device_power(device, utilisation)
    peak_a = Assumption(
        "peak FLOP/s",
        f"{peak:g} TFLOP/s {used} per {device.name}"
        + (f" (no {precision} figure in the catalogue)" if used != precision else ""),
        device.source or "catalogue",
    )
    mfu_a = (
        Assumption("MFU", f"{m:g} (exact)", "given by the user")
        if m is not None
        else Assumption("MFU", f"{MFU.central:g} (range {MFU.low:g}-{MFU.high:g})", MFU.source)
    )
    assumptions = [
        flops_a,
        *_hardware_assumptions(entry, device),
        peak_a,
        mfu_a,
        u_assumption,
        *_host_assumption(host),
    ]
    return Estimate(
        method="flops",
        description=f"{total_flops:.3g} FLOPs on {words}",
        hours=h_c,
        hours_low=h_fast,
        hours_high=h_slow,
        it_energy_kwh=(n * p + host) * h_c / 1000,
        it_energy_low_kwh=(n * lo + host) * h_fast / 1000,
        it_energy_high_kwh=(n * hi + host) * h_slow / 1000,
        power_w=n * p + host,
        carbon=basis,
        assumptions=(*assumptions, *_carbon_assumptions(basis)),
        hardware=device,
        count=n,
        flops=total_flops,
        precision=used,
        mfu=m_c,
        utilisation=p / device.tdp_w if device.tdp_w else None,
        host_power_w=host,
        given=tuple(
            name for name, v in (("utilisation", utilisation), ("mfu", m)) if v is not None
        ),
    )


def _from_run(
    run: Any,
    scale_data: float,
    scale_epochs: float,
    devices: int | None,
    scaling_efficiency: float | None,
    host: float,
    basis: CarbonBasis,
) -> Estimate:
    from wattwise.record import RunRecord

    if not isinstance(run, RunRecord):
        raise ConfigError(f"run must be a RunRecord, not {type(run).__name__}")
    if host:
        raise ConfigError("host_power_w does not apply to a measured run (it measured its host)")
    data = _positive(scale_data, "scale_data")
    epochs = _positive(scale_epochs, "scale_epochs")
    assert data is not None and epochs is not None
    if run.energy_j <= 0 or run.duration_s <= 0:
        raise ConfigError(f"run {run.id[:8]} has no energy or duration to scale")
    measured_devices = max(1, len(run.host.gpus))
    n = measured_devices if devices is None else devices
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ConfigError(f"devices must be an integer ≥ 1, not {devices!r}")
    work = data * epochs
    footprint = run.footprint
    kwh = footprint.energy_kwh * work
    low = footprint.energy_low_j / 3.6e6 * work
    high = footprint.energy_high_j / 3.6e6 * work
    hours = run.duration_s / 3600 * work
    assumptions = [
        Assumption(
            "measured run",
            f"{run.name} ({run.id[:8]}): {footprint.energy_kwh:.4g} kWh {footprint.method} "
            f"in {run.duration_s / 3600:.3g} h on {measured_devices} device(s), "
            f"{run.headline} scope",
            "the run store",
        ),
        Assumption(
            "scaling",
            f"× {data:g} data × {epochs:g} epochs = × {work:g} energy",
            "energy proportional to the samples processed (same model, batch and hardware)",
        ),
    ]
    e_c = e_lo = e_hi = 1.0
    if n == measured_devices and scaling_efficiency is not None:
        raise ConfigError(
            f"scaling_efficiency applies when devices differs from the run's ({measured_devices})"
        )
    if n != measured_devices:
        e = _fraction(scaling_efficiency, "scaling_efficiency", 1.0)
        if e is not None:
            e_c = e_lo = e_hi = e
            assumptions.append(Assumption("scaling efficiency", f"{e:g} (exact)", "given"))
        else:
            band = SCALING_EFFICIENCY
            e_c, e_lo, e_hi = band.central, band.low, band.high
            assumptions.append(
                Assumption(
                    "scaling efficiency",
                    f"{band.central:g} (range {band.low:g}-{band.high:g})",
                    band.source,
                )
            )
        if n < measured_devices:  # fewer devices: no communication lost, none gained back
            e_c = e_lo = e_hi = 1.0
    ratio = measured_devices / n
    record_notes: tuple[str, ...] = ()
    if run.method != "measured":
        record_notes = (f"the run's energy was {run.method}, so this scales an estimate",)
    return Estimate(
        method="run",
        description=f"run {run.name} ({run.id[:8]}) × {work:g} on {n} device(s)",
        hours=hours * ratio / e_c,
        hours_low=hours * ratio / e_hi,
        hours_high=hours * ratio / e_lo,
        it_energy_kwh=kwh / e_c,
        it_energy_low_kwh=low / e_hi,
        it_energy_high_kwh=high / e_lo,
        power_w=footprint.energy_j / run.duration_s * (n / measured_devices),
        carbon=basis,
        assumptions=(*assumptions, *_carbon_assumptions(basis)),
        count=n,
        notes=record_notes,
    )


def _carbon_assumptions(basis: CarbonBasis) -> list[Assumption]:
    return [
        Assumption("PUE", f"{basis.pue:g}", basis.pue_source),
        Assumption(
            "carbon intensity",
            f"{basis.intensity_g_per_kwh:.4g} gCO2e/kWh ({basis.zone})",
            f"{basis.intensity_source}; {basis.zone_detail}",
        ),
        Assumption("price", f"{basis.price_per_kwh:g} {basis.currency}/kWh", basis.price_source),
    ]


def _with_embodied(est: Estimate, embodied: Any) -> Estimate:
    """SCI's ``M`` for the devices the job reserves for its hours (whole devices: RS = 1);
    the range pairs the low figure with the short end of the hours, the high with the long.

    ``embodied=True`` takes the documented default of the device class (accelerators
    only: the hosts' embodied emissions are not counted, as their power is not unless
    given); an :class:`~wattwise.embodied.EmbodiedInputs` is one device's figure.
    """
    from wattwise.embodied import EmbodiedInputs

    seconds = est.hours * 3600
    if isinstance(embodied, EmbodiedInputs):
        central = low = high = embodied
        scope = "per device, given"
    elif embodied is True:
        if est.hardware is None or est.hardware.kind != "gpu":
            from wattwise.embodied import EMBODIED_DEFAULTS

            what = "no hardware" if est.hardware is None else f"a {est.hardware.kind}"
            raise ConfigError(
                f"no embodied default for {what}: the defaults cover GPUs (classes: "
                f"{', '.join(EMBODIED_DEFAULTS)}); give your device's figure "
                "(EmbodiedInputs, or --embodied-kgco2e)"
            )
        from wattwise.embodied import embodied_default

        default = embodied_default("gpu")
        central, low, high = (default.inputs(bound=b) for b in ("central", "low", "high"))
        scope = "accelerators only: the hosts' embodied emissions are not included"
    else:
        raise ConfigError(f"embodied must be True or EmbodiedInputs, not {embodied!r}")
    n = est.count
    formula = central.formula(seconds)
    if n > 1:
        formula = f"{n} devices × ({formula})"
    return dataclasses.replace(
        est,
        embodied_g=central.co2e_g(seconds) * n,
        embodied_low_g=low.co2e_g(est.hours_low * 3600) * n,
        embodied_high_g=high.co2e_g(est.hours_high * 3600) * n,
        embodied_formula=f"{formula}; {scope}; TE: {central.source}",
    )
