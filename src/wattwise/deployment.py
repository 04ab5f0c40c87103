"""First-order energy models to compare set-ups: edge vs cloud, federated vs centralised.

Edge vs cloud (inference or training)::

    edge  = edge devices × power (W) × hours / 1000 × edge PUE (1: own devices)
            + data moved by the edge (GB) × communication kWh/GB
    cloud = cloud devices × power (W) × hours / 1000 × data-centre PUE
            + data moved to and from the cloud (GB) × communication kWh/GB

Federated vs centralised training (the split into device training energy and wide-area
communication energy follows Qiu et al., "A first look into the carbon footprint of
federated learning", arXiv:2102.07627)::

    federated   = clients per round × client power × local hours per round × rounds
                  + rounds × model size (GB) × 2 (download and upload) × clients × kWh/GB
                  + aggregation server power × hours × data-centre PUE
    centralised = accelerators × power × hours × data-centre PUE
                  + raw training data uploaded (GB) × kWh/GB

Every part is kept apart in the result (compute, communication, facility overhead =
compute in the data centre × (PUE - 1)), as are the emissions: device and data-centre
energy at the edge and cloud intensities, communication at the edge intensity.

The default communication intensity is Aslan et al.'s 0.06 kWh/GB (2015, core and
fixed-line access networks); the range it is varied over (:data:`COMM_KWH_PER_GB`)
runs from 0.001 kWh/GB (high-bitrate links between data centres, the Cloud Carbon
Footprint's choice) to 0.14 kWh/GB (mobile access networks), and a verdict that holds
over that whole range is marked robust. Each result lists its assumptions (values and
sources) and the limits of the model (what it leaves out).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

from wattwise.estimating import Band
from wattwise.exceptions import ConfigError
from wattwise.units import significant as _sig

__all__ = [
    "COMM_KWH_PER_GB",
    "EDGE_PUE",
    "DeploymentComparison",
    "DeploymentOption",
    "edge_vs_cloud",
    "federated_vs_centralised",
]

COMM_KWH_PER_GB = Band(
    0.06,
    0.001,
    0.14,
    "electricity per GB moved through the internet. Central 0.06 kWh/GB: Aslan, Mayers, "
    "Koomey & France 2018, 'Electricity Intensity of Internet Data Transmission: "
    "Untangling the Estimates', J. Industrial Ecology 22(4) (doi:10.1111/jiec.12630), "
    "core and fixed-line access networks in 2015, halving about every 2 years since 2000 "
    "(so likely high for today's fixed networks). Low 0.001 kWh/GB: the Cloud Carbon "
    "Footprint methodology's figure for high-bitrate links between data centres "
    "(https://www.cloudcarbonfootprint.org/docs/methodology). High 0.14 kWh/GB: mobile "
    "access networks, from the 2020 EU ICT impact study as summarised by Scope3 "
    "(https://methodology.scope3.com/data_transfer)",
)
"""Communication energy per GB moved, with the range the comparison is tested over."""

EDGE_PUE = 1.0
"""Edge devices (phones, laptops, boards) are counted at PUE 1: no facility overhead, the
same convention as :data:`wattwise.carbon.LOCAL_PUE`."""

Model = Literal["edge-vs-cloud", "federated-vs-centralised"]

_LIMITS_COMMON: tuple[str, ...] = (
    "power figures are average draws while computing, as given; idle and standby power "
    "outside those hours (servers kept warm, devices waiting for work) is left out",
    "embodied emissions of devices, servers and network equipment are left out (SCI's M; "
    "see wattwise.embodied and its per-device defaults)",
    "communication is an average intensity per GB, which allocates network energy by "
    "volume; much network power is drawn whatever the traffic (Malmodin & Lundén 2018), "
    "so the marginal energy of one more GB is lower than the average",
    "communication energy is charged at the edge side's carbon intensity, although the "
    "network spans both sides",
    "battery charging and power-supply losses of edge devices are left out",
    "both set-ups are assumed to reach the same quality with the hours given; accuracy, "
    "latency and privacy are not modelled",
)
_LIMITS_FEDERATED: tuple[str, ...] = (
    "stragglers, dropped clients and clients that train but are not aggregated are left "
    "out: their energy is spent but not in this count",
    "non-IID client data usually needs more rounds than centralised training needs "
    "epochs; the rounds and hours given must already include that",
    "update compression, partial participation schedules and secure aggregation "
    "overheads are not modelled: every client downloads and uploads the whole model once "
    "per round",
)


def _number(name: str, value: float, *, low: float = 0.0, high: float = math.inf) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"invalid {name}={value!r}: must be a number")
    v = float(value)
    if not (math.isfinite(v) and low <= v <= high):
        rule = f">= {low:g}" if high == math.inf else f"between {low:g} and {high:g}"
        raise ConfigError(f"invalid {name}={value!r}: must be a finite number {rule}")
    return v


def _count(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"invalid {name}={value!r}: must be a whole number >= 1")
    return value


def _n(count: int, word: str) -> str:
    return f"{count:,} {word}" + ("" if count == 1 else "s")


@dataclass(frozen=True)
class _Side:
    """An intensity and where it comes from."""

    g_per_kwh: float
    source: str


def _intensity(side: str, value: float | None, zone: str) -> _Side:
    if value is not None:
        g = _number(f"{side}_intensity_g_per_kwh", value, high=3000.0)
        return _Side(g, "given by the user")
    from wattwise.carbon import load_zones

    z = load_zones().get(zone)
    return _Side(z.intensity_g_per_kwh, f"zone {z.id} annual average {z.year}: {z.source}")


def _cloud_pue(pue: float | None, zone: str) -> tuple[float, str]:
    from wattwise.carbon import ZoneChoice, load_zones, resolve_pue

    choice = ZoneChoice(load_zones().get(zone), "argument", f"zone {zone!r}")
    got = resolve_pue(pue, zone_choice=choice, setting="datacenter", environ={})
    if got.source == "user":
        return got.value, "given by the user"
    return got.value, got.source.removeprefix("setting=datacenter: ")


@dataclass(frozen=True)
class DeploymentOption:
    """One set-up's energy by part, and its emissions.

    Attributes:
        name: ``edge``, ``cloud``, ``federated`` or ``centralised``.
        compute_kwh: energy the devices and servers draw while computing.
        communication_kwh: energy of moving data through the network.
        facility_overhead_kwh: data-centre compute × (PUE - 1).
        total_kwh: the three together.
        co2e_g: emissions at the side's intensities.
        total_low_kwh, total_high_kwh: the total with the communication intensity at the
            low and high end of its range (equal to ``total_kwh`` when it was given).
        co2e_low_g, co2e_high_g: the emissions likewise.
        formula: the computation in numbers, one line per part.
    """

    name: str
    compute_kwh: float
    communication_kwh: float
    facility_overhead_kwh: float
    total_kwh: float
    co2e_g: float
    total_low_kwh: float
    total_high_kwh: float
    co2e_low_g: float
    co2e_high_g: float
    formula: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "name": self.name,
            "compute_kwh": self.compute_kwh,
            "communication_kwh": self.communication_kwh,
            "facility_overhead_kwh": self.facility_overhead_kwh,
            "total_kwh": self.total_kwh,
            "total_low_kwh": self.total_low_kwh,
            "total_high_kwh": self.total_high_kwh,
            "co2e_g": self.co2e_g,
            "co2e_low_g": self.co2e_low_g,
            "co2e_high_g": self.co2e_high_g,
            "formula": list(self.formula),
        }


@dataclass(frozen=True)
class DeploymentComparison:
    """Two set-ups side by side, the better one, and what the comparison assumes.

    Attributes:
        model: ``edge-vs-cloud`` or ``federated-vs-centralised``.
        options: the two set-ups, in that order.
        better_by_energy, better_by_co2e: the option with the lower total (``tie`` when
            equal).
        energy_ratio, co2e_ratio: the other's total over the better one's (None when the
            better one is zero, 1.0 on a tie).
        robust: whether the option better by emissions stays better with the
            communication intensity anywhere in its range (always True when it was given).
        comm_kwh_per_gb: the communication intensity used.
        pue: the data-centre PUE used.
        cloud_intensity_g_per_kwh, edge_intensity_g_per_kwh: the two intensities used.
        assumptions: every value used and its source, in words.
        limits: what the model leaves out.
    """

    model: Model
    options: tuple[DeploymentOption, DeploymentOption]
    better_by_energy: str
    energy_ratio: float | None
    better_by_co2e: str
    co2e_ratio: float | None
    robust: bool
    comm_kwh_per_gb: float
    pue: float
    cloud_intensity_g_per_kwh: float
    edge_intensity_g_per_kwh: float
    assumptions: tuple[str, ...]
    limits: tuple[str, ...]

    def option(self, name: str) -> DeploymentOption:
        """The option called ``name``. Raises KeyError."""
        for o in self.options:
            if o.name == name:
                return o
        raise KeyError(name)

    def verdict(self) -> str:
        """The comparison in one sentence."""
        return _verdict(self)

    def rows(self) -> list[tuple[str, str, str]]:
        """The per-part table as text: (part, first option, second option)."""
        a, b = self.options

        def ranged(value: float, low: float, high: float) -> str:
            if high - low <= 1e-12 * max(abs(value), 1.0):
                return _sig(value)
            return f"{_sig(value)} ({_sig(low)}-{_sig(high)})"

        return [
            ("compute, kWh", _sig(a.compute_kwh), _sig(b.compute_kwh)),
            ("communication, kWh", _sig(a.communication_kwh), _sig(b.communication_kwh)),
            (
                "facility overhead, kWh",
                _sig(a.facility_overhead_kwh),
                _sig(b.facility_overhead_kwh),
            ),
            (
                "total, kWh",
                ranged(a.total_kwh, a.total_low_kwh, a.total_high_kwh),
                ranged(b.total_kwh, b.total_low_kwh, b.total_high_kwh),
            ),
            (
                "emissions, gCO2e",
                ranged(a.co2e_g, a.co2e_low_g, a.co2e_high_g),
                ranged(b.co2e_g, b.co2e_low_g, b.co2e_high_g),
            ),
        ]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "model": self.model,
            "options": [o.to_dict() for o in self.options],
            "better_by_energy": self.better_by_energy,
            "energy_ratio": self.energy_ratio,
            "better_by_co2e": self.better_by_co2e,
            "co2e_ratio": self.co2e_ratio,
            "robust": self.robust,
            "verdict": self.verdict(),
            "comm_kwh_per_gb": self.comm_kwh_per_gb,
            "pue": self.pue,
            "cloud_intensity_g_per_kwh": self.cloud_intensity_g_per_kwh,
            "edge_intensity_g_per_kwh": self.edge_intensity_g_per_kwh,
            "assumptions": list(self.assumptions),
            "limits": list(self.limits),
        }


def _better(a: tuple[str, float], b: tuple[str, float]) -> tuple[str, float | None]:
    """The name with the lower value and the other's value over it (``tie``, 1.0 when
    equal; None when the lower is zero)."""
    if a[1] == b[1]:
        return "tie", 1.0
    (win, lo), (_, hi) = (a, b) if a[1] < b[1] else (b, a)
    return win, (hi / lo if lo > 0 else None)


def _verdict(c: DeploymentComparison) -> str:
    a, b = c.options
    if c.better_by_co2e == "tie":
        text = f"{a.name} and {b.name} emit the same ({_sig(a.co2e_g)} gCO2e)"
    else:
        worse = b.name if c.better_by_co2e == a.name else a.name
        times = "" if c.co2e_ratio is None else f" {_sig(c.co2e_ratio)}× less than {worse}"
        text = f"{c.better_by_co2e} emits{times}" if times else f"{c.better_by_co2e} emits nothing"
    if c.better_by_energy == "tie" and c.better_by_co2e != "tie":
        text += "; both use the same energy"
    elif c.better_by_energy != c.better_by_co2e:
        text += f"; by energy alone, {c.better_by_energy} uses less"
        if c.energy_ratio is not None:
            text += f" ({_sig(c.energy_ratio)}×)"
    if not c.robust:
        text += (
            "; not robust: the order changes with the communication intensity within "
            f"{COMM_KWH_PER_GB.low:g}-{COMM_KWH_PER_GB.high:g} kWh/GB"
        )
    return text


@dataclass(frozen=True)
class _Parts:
    """An option's energy before the communication intensity is applied."""

    name: str
    edge_kwh: float  # computed on edge devices (edge PUE applied), at the edge intensity
    dc_it_kwh: float  # computed in the data centre (IT), at the cloud intensity
    gb: float  # data moved
    formula: tuple[str, ...]


def _option(
    p: _Parts, *, comm: float, pue: float, cloud: float, edge: float, band: Band | None
) -> DeploymentOption:
    def totals(c: float) -> tuple[float, float]:
        comm_kwh = p.gb * c
        kwh = p.edge_kwh + p.dc_it_kwh * pue + comm_kwh
        g = p.edge_kwh * edge + p.dc_it_kwh * pue * cloud + comm_kwh * edge
        return kwh, g

    kwh, g = totals(comm)
    lo_kwh, lo_g = totals(band.low) if band else (kwh, g)
    hi_kwh, hi_g = totals(band.high) if band else (kwh, g)
    comm_kwh = p.gb * comm
    overhead = p.dc_it_kwh * (pue - 1.0)
    formula = (
        *p.formula,
        f"communication = {_sig(p.gb)} GB × {comm:g} kWh/GB = {_sig(comm_kwh)} kWh",
        (
            f"facility overhead = {_sig(p.dc_it_kwh)} kWh × (PUE {pue:g} - 1) = "
            f"{_sig(overhead)} kWh"
            if p.dc_it_kwh > 0
            else "facility overhead = 0 kWh (nothing computed in a data centre)"
        ),
    )
    return DeploymentOption(
        name=p.name,
        compute_kwh=p.edge_kwh + p.dc_it_kwh,
        communication_kwh=comm_kwh,
        facility_overhead_kwh=overhead,
        total_kwh=kwh,
        co2e_g=g,
        total_low_kwh=min(lo_kwh, hi_kwh),
        total_high_kwh=max(lo_kwh, hi_kwh),
        co2e_low_g=min(lo_g, hi_g),
        co2e_high_g=max(lo_g, hi_g),
        formula=formula,
    )


def _compare(
    model: Model,
    parts: tuple[_Parts, _Parts],
    *,
    comm_kwh_per_gb: float | None,
    pue: float | None,
    cloud_zone: str,
    edge_zone: str,
    cloud_intensity_g_per_kwh: float | None,
    edge_intensity_g_per_kwh: float | None,
    extra_assumptions: tuple[str, ...],
    extra_limits: tuple[str, ...],
) -> DeploymentComparison:
    if comm_kwh_per_gb is None:
        comm, band = COMM_KWH_PER_GB.central, COMM_KWH_PER_GB
        comm_source = COMM_KWH_PER_GB.source
    else:
        comm, band = _number("comm_kwh_per_gb", comm_kwh_per_gb, high=10.0), None
        comm_source = "given by the user"
    pue_value, pue_source = _cloud_pue(pue, cloud_zone)
    cloud = _intensity("cloud", cloud_intensity_g_per_kwh, cloud_zone)
    edge = _intensity("edge", edge_intensity_g_per_kwh, edge_zone)

    def build(c: float, b: Band | None) -> tuple[DeploymentOption, DeploymentOption]:
        a, z = (
            _option(p, comm=c, pue=pue_value, cloud=cloud.g_per_kwh, edge=edge.g_per_kwh, band=b)
            for p in parts
        )
        return a, z

    a, b = build(comm, band)
    if a.total_kwh == 0 and b.total_kwh == 0:
        raise ConfigError("nothing to compare: both set-ups use no energy")
    by_energy, energy_ratio = _better((a.name, a.total_kwh), (b.name, b.total_kwh))
    by_co2e, co2e_ratio = _better((a.name, a.co2e_g), (b.name, b.co2e_g))
    robust = True
    if band is not None:
        for end in (band.low, band.high):
            ea, eb = build(end, None)
            robust &= _better((ea.name, ea.co2e_g), (eb.name, eb.co2e_g))[0] == by_co2e
    assumptions = (
        f"communication energy {comm:g} kWh/GB ({comm_source})"
        + (f"; varied over {band.low:g}-{band.high:g} kWh/GB for the range" if band else ""),
        f"data-centre PUE {pue_value:g}: {pue_source}",
        f"edge devices at PUE {EDGE_PUE:g}: own devices, no facility overhead counted",
        f"cloud side {_sig(cloud.g_per_kwh)} gCO2e/kWh: {cloud.source}",
        f"edge side {_sig(edge.g_per_kwh)} gCO2e/kWh: {edge.source}; communication energy "
        "is charged at this intensity",
        *extra_assumptions,
    )
    return DeploymentComparison(
        model=model,
        options=(a, b),
        better_by_energy=by_energy,
        energy_ratio=energy_ratio,
        better_by_co2e=by_co2e,
        co2e_ratio=co2e_ratio,
        robust=robust,
        comm_kwh_per_gb=comm,
        pue=pue_value,
        cloud_intensity_g_per_kwh=cloud.g_per_kwh,
        edge_intensity_g_per_kwh=edge.g_per_kwh,
        assumptions=assumptions,
        limits=(*_LIMITS_COMMON, *extra_limits),
    )


def edge_vs_cloud(
    *,
    edge_power_w: float,
    edge_hours: float,
    cloud_power_w: float,
    cloud_hours: float,
    edge_devices: int = 1,
    cloud_devices: int = 1,
    edge_data_gb: float = 0.0,
    cloud_data_gb: float = 0.0,
    comm_kwh_per_gb: float | None = None,
    pue: float | None = None,
    cloud_zone: str = "WORLD",
    edge_zone: str = "WORLD",
    cloud_intensity_g_per_kwh: float | None = None,
    edge_intensity_g_per_kwh: float | None = None,
) -> DeploymentComparison:
    """Run the same work on edge devices or in a data centre.

    ``edge_power_w`` and ``cloud_power_w`` are each device's average draw while computing
    and ``*_hours`` each device's computing hours; ``edge_data_gb`` is what the edge
    set-up moves through the network (model downloads, say), ``cloud_data_gb`` what the
    cloud one moves (inputs up, results down). ``pue`` defaults to the cloud zone's own
    PUE, its provider's, or the data-centre average (:func:`wattwise.carbon.resolve_pue`);
    intensities default to the zones' annual averages (``WORLD`` unless given).
    """
    e_w = _number("edge_power_w", edge_power_w, high=1e6)
    e_h = _number("edge_hours", edge_hours, high=1e6)
    e_n = _count("edge_devices", edge_devices)
    c_w = _number("cloud_power_w", cloud_power_w, high=1e7)
    c_h = _number("cloud_hours", cloud_hours, high=1e6)
    c_n = _count("cloud_devices", cloud_devices)
    e_gb = _number("edge_data_gb", edge_data_gb)
    c_gb = _number("cloud_data_gb", cloud_data_gb)
    edge_kwh = e_n * e_w * e_h / 1000.0 * EDGE_PUE
    cloud_kwh = c_n * c_w * c_h / 1000.0
    parts = (
        _Parts(
            "edge",
            edge_kwh,
            0.0,
            e_gb,
            (
                f"compute = {_n(e_n, 'device')} × {_sig(e_w)} W × {_sig(e_h)} h / 1000 = "
                f"{_sig(edge_kwh)} kWh (PUE {EDGE_PUE:g})",
            ),
        ),
        _Parts(
            "cloud",
            0.0,
            cloud_kwh,
            c_gb,
            (
                f"compute = {_n(c_n, 'device')} × {_sig(c_w)} W × {_sig(c_h)} h / 1000 = "
                f"{_sig(cloud_kwh)} kWh",
            ),
        ),
    )
    return _compare(
        "edge-vs-cloud",
        parts,
        comm_kwh_per_gb=comm_kwh_per_gb,
        pue=pue,
        cloud_zone=cloud_zone,
        edge_zone=edge_zone,
        cloud_intensity_g_per_kwh=cloud_intensity_g_per_kwh,
        edge_intensity_g_per_kwh=edge_intensity_g_per_kwh,
        extra_assumptions=(
            f"edge: {_n(e_n, 'device')} × {_sig(e_w)} W for {_sig(e_h)} h each, moving "
            f"{_sig(e_gb)} GB (given)",
            f"cloud: {_n(c_n, 'device')} × {_sig(c_w)} W for {_sig(c_h)} h each, moving "
            f"{_sig(c_gb)} GB (given)",
        ),
        extra_limits=(),
    )


def federated_vs_centralised(
    *,
    clients: int,
    client_power_w: float,
    local_hours_per_round: float,
    rounds: int,
    model_gb: float,
    central_power_w: float,
    central_hours: float,
    central_devices: int = 1,
    raw_data_gb: float = 0.0,
    server_power_w: float = 0.0,
    server_hours: float = 0.0,
    comm_kwh_per_gb: float | None = None,
    pue: float | None = None,
    cloud_zone: str = "WORLD",
    edge_zone: str = "WORLD",
    cloud_intensity_g_per_kwh: float | None = None,
    edge_intensity_g_per_kwh: float | None = None,
) -> DeploymentComparison:
    """Train on the clients (federated) or upload their data and train in a data centre.

    ``clients`` take part in each of the ``rounds``, each training
    ``local_hours_per_round`` at ``client_power_w`` and downloading and uploading the
    ``model_gb`` model once per round; the aggregation server draws ``server_power_w``
    for ``server_hours`` in the data centre. Centralised training runs
    ``central_devices`` × ``central_power_w`` for ``central_hours`` in the data centre
    after ``raw_data_gb`` of client data is uploaded. Defaults as :func:`edge_vs_cloud`.
    """
    n = _count("clients", clients)
    k_w = _number("client_power_w", client_power_w, high=1e6)
    k_h = _number("local_hours_per_round", local_hours_per_round, high=1e6)
    r = _count("rounds", rounds)
    m_gb = _number("model_gb", model_gb, high=1e6)
    c_w = _number("central_power_w", central_power_w, high=1e7)
    c_h = _number("central_hours", central_hours, high=1e6)
    c_n = _count("central_devices", central_devices)
    raw_gb = _number("raw_data_gb", raw_data_gb)
    s_w = _number("server_power_w", server_power_w, high=1e7)
    s_h = _number("server_hours", server_hours, high=1e6)
    clients_kwh = n * k_w * k_h * r / 1000.0 * EDGE_PUE
    server_kwh = s_w * s_h / 1000.0
    central_kwh = c_n * c_w * c_h / 1000.0
    fl_gb = r * m_gb * 2 * n
    parts = (
        _Parts(
            "federated",
            clients_kwh,
            server_kwh,
            fl_gb,
            (
                f"clients = {_n(n, 'client')} × {_sig(k_w)} W × {_sig(k_h)} h × {_n(r, 'round')} "
                f"/ 1000 = {_sig(clients_kwh)} kWh (PUE {EDGE_PUE:g})",
                f"server = {_sig(s_w)} W × {_sig(s_h)} h / 1000 = {_sig(server_kwh)} kWh",
                f"data moved = {_n(r, 'round')} × {_sig(m_gb)} GB × 2 × {_n(n, 'client')} = "
                f"{_sig(fl_gb)} GB",
            ),
        ),
        _Parts(
            "centralised",
            0.0,
            central_kwh,
            raw_gb,
            (
                f"compute = {_n(c_n, 'device')} × {_sig(c_w)} W × {_sig(c_h)} h / 1000 = "
                f"{_sig(central_kwh)} kWh",
                f"data moved = {_sig(raw_gb)} GB of raw data uploaded",
            ),
        ),
    )
    return _compare(
        "federated-vs-centralised",
        parts,
        comm_kwh_per_gb=comm_kwh_per_gb,
        pue=pue,
        cloud_zone=cloud_zone,
        edge_zone=edge_zone,
        cloud_intensity_g_per_kwh=cloud_intensity_g_per_kwh,
        edge_intensity_g_per_kwh=edge_intensity_g_per_kwh,
        extra_assumptions=(
            f"federated: {_n(n, 'client')} per round × {_n(r, 'round')}, {_sig(k_w)} W for "
            f"{_sig(k_h)} h per round each; model {_sig(m_gb)} GB down and up once per "
            f"round per client; server {_sig(s_w)} W for {_sig(s_h)} h (given)",
            f"centralised: {_n(c_n, 'device')} × {_sig(c_w)} W for {_sig(c_h)} h each after "
            f"{_sig(raw_gb)} GB of raw data is uploaded (given)",
            "model structure (device training energy + wide-area communication energy): "
            "Qiu et al., 'A first look into the carbon footprint of federated learning' "
            "(arXiv:2102.07627)",
        ),
        extra_limits=_LIMITS_FEDERATED,
    )
