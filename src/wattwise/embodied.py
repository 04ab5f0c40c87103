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
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from wattwise.exceptions import ConfigError

__all__ = ["DEFAULT_LIFETIME_YEARS", "EmbodiedInputs"]

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
