"""Embodied emissions of a run: the ``M`` term of SCI (ISO/IEC 21031:2024).

SCI amortises the hardware's manufacturing emissions over its expected life and charges a
run for the time and the share of the hardware it reserved::

    M = TE × (TiR / EL) × RS

with ``TE`` the total embodied emissions of the hardware (kgCO2e), ``TiR`` the time the
run reserved it, ``EL`` its expected lifespan and ``RS`` the share of it reserved
(``RR / ToR``: 1 for a whole machine, 0.25 for one GPU of four, ...).

wattwise measures operational energy; it has no manufacturing figures for hardware, so
``TE`` comes from the user (a vendor's product carbon footprint, e.g. a Dell or HPE PCF
sheet, or a database such as Boavizta's) and the report says so. Without it the report
shows embodied emissions as not included, never as zero.

:data:`EMBODIED_DEFAULTS` holds published figures per device class (a data-centre GPU
card, a GPU server's host, a CPU server, a laptop, a desktop, a smartphone), each with
its source, lifespan and the low–high range the sources span, for when no product
figure is at hand: :func:`embodied_default` looks one up and
:meth:`EmbodiedDefault.inputs` turns it into :class:`EmbodiedInputs` with the share
reserved. Classes without a published figure we could check (TPUs, edge boards such as
a Jetson or a Raspberry Pi) are left out rather than guessed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Literal

from wattwise.exceptions import ConfigError

__all__ = [
    "DEFAULT_LIFETIME_YEARS",
    "EMBODIED_DEFAULTS",
    "EmbodiedDefault",
    "EmbodiedInputs",
    "embodied_default",
]

DEFAULT_LIFETIME_YEARS = 4.0
"""A common server lifespan assumption (the GSF's SCI examples use 4 years); set yours."""
SECONDS_PER_YEAR = 365.25 * 86_400


@dataclass(frozen=True)
class EmbodiedInputs:
    """What SCI's ``M`` needs, beyond the run's own duration.

    Attributes:
        total_kgco2e: ``TE``, the hardware's manufacturing emissions, kgCO2e.
        lifetime_years: ``EL``, its expected lifespan.
        share: ``RS``, the share of the hardware the run reserved, in (0, 1].
        source: where ``TE`` comes from, shown in the report.
    """

    total_kgco2e: float
    lifetime_years: float = DEFAULT_LIFETIME_YEARS
    share: float = 1.0
    source: str = "given by the user"

    def __post_init__(self) -> None:
        checks = (
            ("total_kgco2e", self.total_kgco2e, 0.0 < self.total_kgco2e < 1e7, "in (0, 1e7)"),
            ("lifetime_years", self.lifetime_years, 0.0 < self.lifetime_years <= 30, "in (0, 30]"),
            ("share", self.share, 0.0 < self.share <= 1.0, "in (0, 1]"),
        )
        for name, value, ok, rule in checks:
            if not (math.isfinite(value) and ok):
                raise ConfigError(f"invalid embodied {name}={value!r}: must be {rule}")

    def co2e_g(self, duration_s: float) -> float:
        """``M`` for a run that reserved the hardware for ``duration_s``, gCO2e."""
        fraction = max(duration_s, 0.0) / (self.lifetime_years * SECONDS_PER_YEAR)
        return self.total_kgco2e * 1e3 * fraction * self.share

    def formula(self, duration_s: float, headline: str = "machine") -> str:
        """The computation in words and numbers, for the report.

        With ``headline="process"`` and the whole machine reserved (``share == 1``) it says
        that ``M`` charges the whole machine while the operational figure is a share.
        """
        text = (
            f"M = TE × TiR/EL × RS = {self.total_kgco2e:g} kgCO2e × "
            f"{max(duration_s, 0.0):.3g} s / {self.lifetime_years:g} years × {self.share:g} = "
            f"{self.co2e_g(duration_s):.3g} gCO2e"
        )
        if headline == "process" and self.share == 1.0:
            text += (
                " (RS = 1 charges the whole machine, while the operational emissions are the "
                "tracked processes' share; set the share the run reserved)"
            )
        return text

    def as_dict(self, duration_s: float) -> dict[str, Any]:
        """The inputs as plain JSON (the report's ``embodied.inputs``)."""
        return {
            "total_kgco2e": float(self.total_kgco2e),
            "lifetime_years": float(self.lifetime_years),
            "share": float(self.share),
            "time_reserved_s": float(max(duration_s, 0.0)),
            "source": self.source,
        }


# -- defaults per device class ---------------------------------------------------------------
Bound = Literal["central", "low", "high"]
"""Which figure of a default's range to use."""


def _non_use(total_kgco2e: float, use_share: float) -> float:
    """The part of a product carbon footprint that is not the use phase (manufacturing,
    transport, end of life), from the PCF's total and its use-phase share."""
    return total_kgco2e * (1.0 - use_share)


@dataclass(frozen=True)
class EmbodiedDefault:
    """A published embodied-emissions figure for one class of device.

    Attributes:
        device_class: the key in :data:`EMBODIED_DEFAULTS` (``gpu``, ``cpu-server``, ...).
        description: what one unit is (one accelerator card, one server node, ...).
        total_kgco2e: ``TE``, the central figure, kgCO2e per unit (cradle to gate or
            cradle to grave without the use phase, as the source says).
        low_kgco2e, high_kgco2e: the range the sources span (equal when one source).
        lifetime_years: ``EL``, the lifespan the central source assumes.
        source: where every figure comes from, with URLs.
    """

    device_class: str
    description: str
    total_kgco2e: float
    low_kgco2e: float
    high_kgco2e: float
    lifetime_years: float
    source: str

    def inputs(
        self, share: float = 1.0, *, count: int = 1, bound: Bound = "central"
    ) -> EmbodiedInputs:
        """:class:`EmbodiedInputs` for ``count`` units of this class with ``share``
        (``RS``) of them reserved; ``bound`` picks the central, low or high figure."""
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ConfigError(f"invalid embodied count={count!r}: must be a whole number >= 1")
        figures = {"central": self.total_kgco2e, "low": self.low_kgco2e, "high": self.high_kgco2e}
        if bound not in figures:
            raise ConfigError(f"invalid bound={bound!r}: must be one of central, low, high")
        each = figures[bound]
        what = f"{count} × " if count > 1 else ""
        return EmbodiedInputs(
            total_kgco2e=each * count,
            lifetime_years=self.lifetime_years,
            share=share,
            source=(
                f"{what}{self.device_class} default ({bound}: {each:.4g} kgCO2e each, "
                f"{self.lifetime_years:g}-year life): {self.source}"
            ),
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "device_class": self.device_class,
            "description": self.description,
            "total_kgco2e": self.total_kgco2e,
            "low_kgco2e": self.low_kgco2e,
            "high_kgco2e": self.high_kgco2e,
            "lifetime_years": self.lifetime_years,
            "source": self.source,
        }


_BLOOM = (
    "Luccioni, Viguier & Ligozat 2023, 'Estimating the Carbon Footprint of BLOOM, a 176B "
    "Parameter Language Model', JMLR 24(253) (https://jmlr.org/papers/v24/23-0069.html, "
    "arXiv:2211.02001), the figures also used as defaults by Boavizta's e-footprint "
    "GPUServer (https://github.com/Boavizta/e-footprint)"
)
_BOAVIZTA_PCF = (
    "manufacturer product carbon footprints as collected in Boavizta's "
    "environmental-footprint-data (boavizta-data-us.csv, "
    "https://github.com/Boavizta/environmental-footprint-data); embodied = total × "
    "(1 - use-phase share)"
)

EMBODIED_DEFAULTS: Mapping[str, EmbodiedDefault] = MappingProxyType(
    {
        "gpu": EmbodiedDefault(
            "gpu",
            "one data-centre accelerator card (NVIDIA A100 class), without its server",
            150.0,
            150.0,
            181.0,
            6.0,
            f"150 kgCO2e per A100 and a 6-year life: {_BLOOM}. High 181 kgCO2e: the "
            "ADEME/Hubblo parametric GPU model (Lees-Perasso, Ekchajzer, Roussilhe & De "
            "Latour 2026, after Falk et al. 2025) for an A100 PCIe 40GB, manufacturing, "
            "transport and end of life (https://data.hubblo.org)",
        ),
        "gpu-server-host": EmbodiedDefault(
            "gpu-server-host",
            "one GPU server node without its accelerators (add gpu × the card count)",
            2500.0,
            2500.0,
            2500.0,
            6.0,
            f"2,500 kgCO2e per server node without GPUs (HPE Apollo 6500 Gen10 Plus) and a "
            f"6-year life: {_BLOOM}; one source, so no range",
        ),
        "cpu-server": EmbodiedDefault(
            "cpu-server",
            "one 1-2 socket rack server without accelerators",
            1356.48,
            1162.10,
            1946.00,
            4.0,
            "Dell PowerEdge R740 product carbon footprint, 1,356 kgCO2e of its 8,640 kgCO2e "
            "outside the use phase, 4 years of use "
            "(https://i.dell.com/sites/csdocuments/CorpComm_Docs/en/"
            "carbon-footprint-poweredge-r740.pdf); range over 38 PowerEdge models, "
            "1,162 (R230) to 1,946 (M640) kgCO2e, as compiled from Dell's sheets in "
            "https://github.com/YousefEZ/server-co2e (dataset/aggregate.csv)",
        ),
        "laptop": EmbodiedDefault(
            "laptop",
            "one laptop",
            _non_use(276.0, 0.18),
            _non_use(174.0, 0.15),
            _non_use(394.0, 0.19),
            5.0,
            "Lenovo ThinkPad E14 PCF (2019): 276 kgCO2e, 18 % use phase, 5 years "
            "(https://static.lenovo.com/ww/docs/regulatory/PCF-ThinkPad-E14_R14_S3-Gen-2.pdf)"
            "; low: Apple 13-inch MacBook Air with Retina display, 256 GB (Mar 2020): 174 "
            "kgCO2e, 15 % use; high: Apple 16-inch MacBook Pro, 512 GB (Nov 2019): 394 "
            f"kgCO2e, 19 % use; {_BOAVIZTA_PCF}",
        ),
        "desktop": EmbodiedDefault(
            "desktop",
            "one desktop computer without a display",
            _non_use(491.0, 0.51),
            _non_use(244.0, 0.32),
            _non_use(961.0, 0.52),
            4.0,
            "Dell OptiPlex 7050 Tower PCF (Dec 2018): 491 kgCO2e, 51 % use phase, 4 years "
            "(https://i.dell.com/sites/csdocuments/CorpComm_Docs/en/"
            "carbon-footprint-optiplex-7050-tower.pdf); low: Dell OptiPlex 3060 Micro: 244 "
            "kgCO2e, 32 % use; high: Fujitsu ESPRIMO P957 (2018): 961 kgCO2e, 52 % use; "
            f"{_BOAVIZTA_PCF}",
        ),
        "smartphone": EmbodiedDefault(
            "smartphone",
            "one smartphone",
            _non_use(79.0, 0.17),
            _non_use(43.9, 0.25),
            _non_use(79.0, 0.17),
            3.0,
            "Apple iPhone X Product Environmental Report (Sep 2017): 79 kgCO2e, 80 % "
            "production, 17 % use, 2 % transport, 1 % recycling, as quoted by 9to5Mac "
            "(https://9to5mac.com/2017/09/29/apple-touts-environmental-credentials-iphone-x-"
            "report/); low: Fairphone 2 LCA (Proske, Clemm & Richter, Fraunhofer IZM 2016): "
            "43.9 kgCO2e over 3 years of use, production 'mostly more than three quarters', "
            "so at least 75 % of it (a lower bound); 3 years: the Fairphone 2 LCA's use period",
        ),
    }
)
"""Embodied emissions per device class, each with its source and range (kgCO2e per unit)."""


def embodied_default(device_class: str) -> EmbodiedDefault:
    """The default for ``device_class`` (case-insensitive); :class:`ConfigError` naming
    the classes there are for an unknown one."""
    key = device_class.strip().lower() if isinstance(device_class, str) else ""
    if key not in EMBODIED_DEFAULTS:
        raise ConfigError(
            f"no embodied default for device class {device_class!r}; "
            f"known: {', '.join(EMBODIED_DEFAULTS)}"
        )
    return EMBODIED_DEFAULTS[key]
