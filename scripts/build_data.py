#!/usr/bin/env python3
"""Regenerate wattwise's packaged data tables from the shared reference figures.

Usage::

    python scripts/build_data.py [--shared ../shared/data] [--out src/wattwise/data]
                                 [--tzdata /usr/share/zoneinfo]

Writes ``zones.csv``, ``cpu_tdp.csv``, ``gpus.csv``, ``tz_countries.csv`` and ``README.md``
into ``--out``. The output is deterministic: running it twice on the same inputs gives
the same bytes. The package never reads the shared folder at run time; it reads only
the files written here.

Needs ``pycountry`` (ISO 3166 two/three-letter codes), a build-time dependency only.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import re
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
G_PER_LB = 453.59237  # grams in one international avoirdupois pound (exact)

ZONE_COLUMNS = (
    "id",
    "name",
    "kind",
    "provider",
    "country_iso3",
    "iso2",
    "intensity_g_per_kwh",
    "year",
    "source",
    "pue",
    "pue_source",
    "aliases",
)

OWID_SOURCE = (
    "Ember & Energy Institute via Our World in Data (CC BY 4.0), compiled by CodeCarbon: "
    "https://ourworldindata.org/grapher/carbon-intensity-electricity"
)
EGRID_SOURCE = (
    "US EPA eGRID 2016 state CO2 output rate (CO2 only, not CO2e; lbs/MWh converted), "
    "compiled by CodeCarbon: https://www.epa.gov/egrid"
)
GCP_SOURCE = (
    "Google Cloud region grid carbon intensity for 2023 (CodeCarbon 2024 compilation): "
    "https://cloud.google.com/sustainability/region-carbon#data"
)
MLCO2 = "ML CO2 Impact data (Lacoste et al. 2019, MIT): https://github.com/mlco2/impact"
MLCO2_SHORT = "ML CO2 Impact (2019)"
MLCO2_YEAR = 2019
# Rows of cloud_regions_mlco2.csv whose own comment dates them.
MLCO2_YEAR_BY_ID = {"coreweave:LGA1": 2022, "coreweave:ORD1": 2022, "coreweave:LAS1": 2022}
# Rows left out: a market-based "100% renewable" claim is not a grid intensity.
MLCO2_EXCLUDED = {"seeweb:fro2"}
# Source rows with an empty region id: the region they describe.
MLCO2_REGION_FIX = {("scaleway", "Paris"): "fr-par"}
# A typo in the compiled Google file (Google's own data says me-central1, Doha).
GCP_REGION_FIX = {"me-cenrtal1": "me-central1"}

PROVIDER_NAMES = {
    "aws": "AWS",
    "gcp": "Google Cloud",
    "azure": "Azure",
    "ovh": "OVHcloud",
    "scaleway": "Scaleway",
    "coreweave": "CoreWeave",
    "seeweb": "Seeweb",
}
EXTRA_ALIASES = {"GBR": ("UK", "Great Britain")}

V100_SHEET = (
    "https://images.nvidia.com/content/technologies/volta/pdf/"
    "volta-v100-datasheet-update-us-1165301-r5.pdf"
)
GPU_COLUMNS = ("name", "kind", "tdp_w", "tflops_fp32", "tflops_fp16", "memory_gb", "source")
# Clear errors in the source rows, checked against the row's own datasheet link.
GPU_FIXES: dict[str, dict[str, str]] = {
    # The row had GFLOPS in the TFLOPS column and another card's TDP and memory.
    "GTX 750": {"tdp_w": "55", "tflops_fp32": "1.111", "memory_gb": "1"},
    # GFLOPS (197.4) in a TFLOPS column.
    "Quadro P6000": {"tflops_fp16": "0.197"},
    # The 24 GB card was listed with 12 GB.
    "Tesla M40 24GB": {"memory_gb": "24"},
    # The row's datasheet marks 1,979 (FP16 tensor) and 989 (TF32) "with sparsity"; the
    # catalogue holds dense peaks: FP16 tensor 989.5 (1,979 / 2), FP32 (non-tensor) 67.
    "H100 SXM": {"tflops_fp32": "67", "tflops_fp16": "989.5"},
    # Same datasheet, H100 NVL: FP16 tensor 1,671 with sparsity -> 835.5 dense; FP32 60.
    "H100 NVL": {"tflops_fp32": "60", "tflops_fp16": "835.5"},
    # The fp16 column holds the dense tensor-core peak where a card has tensor cores (as
    # for A100, T4, L40S); the V100 rows had the non-tensor figure. NVIDIA V100 datasheet
    # (https://images.nvidia.com/content/technologies/volta/pdf/volta-v100-datasheet-update-us-1165301-r5.pdf):
    # tensor performance 125 TFLOPS (SXM2), 112 (PCIe).
    # The same datasheet gives the TDPs, which the source rows had swapped (250 W for the
    # PCIe card, 300 W for SXM2), and single precision: 14 (PCIe), 15.7 (SXM2) TFLOPS.
    "Tesla V100-PCIE-16GB": {
        "tflops_fp32": "14",
        "tflops_fp16": "112",
        "tdp_w": "250",
        "source": V100_SHEET,
    },
    "Tesla V100-SXM2-16GB": {
        "tflops_fp32": "15.7",
        "tflops_fp16": "125",
        "tdp_w": "300",
        "source": V100_SHEET,
    },
    "Tesla V100-SXM2-32GB": {"tflops_fp32": "15.7", "tflops_fp16": "125", "source": V100_SHEET},
    # The row's own product brief: FP16 tensor 242 TFLOPS "with sparsity" -> 121 dense.
    "L4": {"tflops_fp16": "121"},
    # A K80 board carries two GK210 GPUs (300 W together); the row's memory and TFLOPS are
    # one GK210's, and the instance tables count GK210s (p2.16xlarge: 16), so the TDP is
    # the board's half: 150 W (NVIDIA Tesla K80 board specification BD-07317-001).
    "Tesla K80": {"tdp_w": "150"},
    # 16 and 32 are the module's INT8 TOPS (the elinux page), not FLOP/s: left empty.
    "AGX Xavier": {"tflops_fp32": "", "tflops_fp16": ""},
}
_MISSING = {"", "nan", "unk", "none", "n/a"}

INSTANCE_COLUMNS = ("provider", "name", "accelerator", "accelerator_count", "source")
# Accelerators per instance type: cloud_instances.csv names the GPU, not how many; the
# counts are from the same AWS instance-type pages the file cites (P3, P2, G4).
INSTANCE_ACCELERATORS: dict[str, int] = {
    "p3.2xlarge": 1, "p3.8xlarge": 4, "p3.16xlarge": 8, "p3dn.24xlarge": 8,
    "p2.xlarge": 1, "p2.8xlarge": 8, "p2.16xlarge": 16,
    "g4dn.xlarge": 1, "g4dn.2xlarge": 1, "g4dn.4xlarge": 1, "g4dn.8xlarge": 1,
    "g4dn.16xlarge": 1, "g4dn.12xlarge": 4, "g4dn.metal": 8,
}  # fmt: skip
# cloud_instances.csv says "Tesla V100"; the P3 page: 16 GB SXM2 (NVLink), p3dn 32 GB
INSTANCE_GPU_NAMES = {"Tesla V100": "Tesla V100-SXM2-16GB"}
INSTANCE_GPU_FIXES = {"p3dn.24xlarge": "Tesla V100-SXM2-32GB"}


class BuildError(Exception):
    """An input file is missing or not in the expected shape."""


def fmt(value: float) -> str:
    """A number with at most 3 decimals and no trailing zeros."""
    text = f"{value:.3f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def num(text: str) -> str:
    """Normalise a numeric cell; empty for missing markers (NaN, unk, ...)."""
    text = text.strip()
    if text.lower() in _MISSING:
        return ""
    return fmt(float(text))


def read_csv(path: Path) -> list[dict[str, str]]:
    """Rows of a CSV file, header names stripped."""
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        header = [h.strip() for h in next(reader)]
        return [dict(zip(header, (c.strip() for c in row), strict=False)) for row in reader]


def write_csv(path: Path, columns: Sequence[str], rows: Iterable[Sequence[str]]) -> None:
    """Write a CSV with ``\\n`` line ends (reproducible on every platform)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows(rows)
    path.write_text(buf.getvalue(), encoding="utf-8", newline="")


class Iso:
    """ISO 3166-1 code lookups, from pycountry."""

    def __init__(self) -> None:
        try:
            import pycountry
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise BuildError(
                "scripts/build_data.py needs pycountry: pip install pycountry"
            ) from exc
        self.iso2_of: dict[str, str] = {}
        self.iso3_of: dict[str, str] = {}
        self.names_of: dict[str, list[str]] = {}
        for c in pycountry.countries:
            self.iso2_of[c.alpha_3] = c.alpha_2
            self.iso3_of[c.alpha_2] = c.alpha_3
            names = [c.name, getattr(c, "official_name", ""), getattr(c, "common_name", "")]
            self.names_of[c.alpha_3] = [n for n in names if n]


def _aliases(names: Iterable[str], exclude: Iterable[str]) -> str:
    seen = {e.casefold() for e in exclude}
    out: list[str] = []
    for name in names:
        if name and name.casefold() not in seen:
            seen.add(name.casefold())
            out.append(name)
    return ";".join(out)


def country_rows(shared: Path, iso: Iso) -> list[list[str]]:
    """One row per country of grid_intensity_by_country.csv."""
    rows = []
    for r in read_csv(shared / "grid_intensity_by_country.csv"):
        iso3 = r["iso3"]
        aliases = _aliases(
            [*iso.names_of.get(iso3, []), *EXTRA_ALIASES.get(iso3, ())],
            exclude=[r["country"], iso3, iso.iso2_of.get(iso3, "")],
        )
        rows.append(
            [
                iso3,
                r["country"],
                "country",
                "",
                iso3,
                iso.iso2_of.get(iso3, ""),
                num(r["gco2e_per_kwh"]),
                str(int(r["year"])),
                OWID_SOURCE,
                "",
                "",
                aliases,
            ]
        )
    return sorted(rows)


def _state_name(key: str) -> str:
    return " ".join(w if w == "of" else w.capitalize() for w in key.split())


def state_rows(shared: Path) -> list[list[str]]:
    """One row per US state (and DC) from eGRID 2016, converted to g/kWh."""
    data = json.loads((shared / "usa_states_2016.json").read_text(encoding="utf-8"))
    unit = data.get("_unit", {}).get("emissions")
    if unit != "lbs/MWh":
        raise BuildError(f"usa_states_2016.json: expected lbs/MWh, found {unit!r}")
    rows = []
    for key, entry in data.items():
        code = str(entry.get("regionCode", ""))
        if key.startswith("_") or not re.fullmatch(r"[A-Z]{2}", code):
            continue  # the unit note and the national row (the country table has a newer one)
        g_per_kwh = float(entry["emissions"]) * G_PER_LB / 1000
        name = _state_name(key)
        rows.append(
            [
                f"US-{code}",
                f"{name} (US)",
                "us_state",
                "",
                "USA",
                "US",
                fmt(g_per_kwh),
                "2016",
                EGRID_SOURCE,
                "",
                "",
                name,
            ]
        )
    return sorted(rows)


def _country_index(countries: list[list[str]]) -> dict[str, str]:
    index: dict[str, str] = {}
    for row in countries:
        for name in [row[1], row[0], *row[11].split(";")]:
            if name:
                index.setdefault(name.casefold(), row[0])
    index["usa"] = "USA"
    return index


def cloud_rows(shared: Path, iso: Iso, countries: list[list[str]]) -> list[list[str]]:
    """Cloud regions: Google's 2023 figures for GCP, ML CO2 Impact for the others."""
    country_of = _country_index(countries)
    mlco2 = read_csv(shared / "cloud_regions_mlco2.csv")
    gcp_pue = {
        r["region"]: (num(r["PUE"]), r["PUE source"])
        for r in mlco2
        if r["provider"] == "gcp" and r["PUE"]
    }
    rows: list[list[str]] = []
    for r in read_csv(shared / "cloud_regions_gcp_2024.csv"):
        region = GCP_REGION_FIX.get(r["region"], r["region"])
        iso3 = r["countryIsoCode"]
        pue, pue_src = gcp_pue.get(region, ("", ""))
        if pue:
            pue_src = f"Google data-centre PUE ({pue_src}), as listed by {MLCO2_SHORT}"
        rows.append(
            [
                f"gcp:{region}",
                f"Google Cloud {region} ({r['city']}, {r['country_name']})",
                "cloud_region",
                "gcp",
                iso3,
                iso.iso2_of.get(iso3, ""),
                num(r["impact"]),
                "2023",
                GCP_SOURCE,
                pue,
                pue_src,
                "",
            ]
        )
    for r in mlco2:
        provider = r["provider"]
        if provider == "gcp":
            continue  # superseded by Google's 2023 figures above (PUE kept)
        region = r["region"] or MLCO2_REGION_FIX.get((provider, r["regionName"]), "")
        zone_id = f"{provider}:{region}"
        if not region:
            raise BuildError(f"cloud_regions_mlco2.csv: no region id for {r}")
        if zone_id in MLCO2_EXCLUDED:
            continue
        iso3 = country_of.get(r["country"].casefold(), "")
        original = r["source"] or "no original source given"
        if r["comment"]:
            original += f" ({r['comment']})"
        pue, pue_src = num(r["PUE"]), r["PUE source"]
        place = ", ".join(p for p in (r["city"], r["country"]) if p)
        rows.append(
            [
                zone_id,
                f"{PROVIDER_NAMES.get(provider, provider)} {region} ({place})",
                "cloud_region",
                provider,
                iso3,
                iso.iso2_of.get(iso3, ""),
                num(r["impact"]),
                str(MLCO2_YEAR_BY_ID.get(zone_id, MLCO2_YEAR)),
                f"{MLCO2}; original: {original}",
                pue,
                f"{pue_src}, as listed by {MLCO2_SHORT}" if pue else "",
                "",
            ]
        )
    # A bare region name ("eu-west-3") is an alias when no other provider uses it.
    bare: dict[str, list[list[str]]] = {}
    for row in rows:
        bare.setdefault(row[0].split(":", 1)[1].casefold(), []).append(row)
    for owners in bare.values():
        if len(owners) == 1:
            owners[0][11] = owners[0][0].split(":", 1)[1]
    return sorted(rows, key=lambda row: (row[3], row[0]))


def world_row(shared: Path) -> list[str]:
    """The world average: IEA's 2018 figure, as the shared source file gives it."""
    data = json.loads((shared / "intensity_per_source.json").read_text(encoding="utf-8"))
    return [
        "WORLD",
        "World average",
        "world",
        "",
        "",
        "",
        fmt(float(data["world_average"])),
        "2018",
        "IEA Global Energy & CO2 Status Report 2019 (CO2 intensity of power generation "
        f"in 2018), compiled by CodeCarbon: {data['world_average_source']}",
        "",
        "",
        "World",
    ]


def weighted_world(shared: Path) -> tuple[float, int]:
    """Generation-weighted mean of the country table (a cross-check, not a table row)."""
    rows = read_csv(shared / "grid_intensity_by_country.csv")
    total = sum(float(r["total_twh"]) for r in rows)
    mean = sum(float(r["gco2e_per_kwh"]) * float(r["total_twh"]) for r in rows) / total
    return mean, len(rows)


def cpu_rows(shared: Path) -> tuple[list[list[str]], list[str]]:
    """name, tdp_w from cpu_tdp.csv, numbers normalised; also notes on rows dropped."""
    rows: list[list[str]] = []
    dropped: list[str] = []
    kept: dict[str, str] = {}
    for r in read_csv(shared / "cpu_tdp.csv"):
        name = " ".join(r["Name"].split())  # also turns no-break spaces into spaces
        try:
            tdp = num(r["TDP"])
        except ValueError:  # a garbled range such as "27.29.5"
            dropped.append(f"{name} (TDP {r['TDP']!r})")
            continue
        if not name or not tdp:
            continue
        if name in kept:
            if kept[name] != tdp:  # the same model listed twice: the first row is kept
                dropped.append(f"{name} ({tdp} W; {kept[name]} W kept)")
            continue
        kept[name] = tdp
        rows.append([name, tdp])
    return rows, dropped


def gpu_rows(shared: Path) -> list[list[str]]:
    """Cleaned gpus.csv: stripped headers, missing markers emptied, known errors fixed."""
    with (shared / "gpus.csv").open(newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        header = [h.strip() for h in next(reader)]
        width = len(header)
        rows = []
        for line, cells in enumerate(reader, start=2):
            cells = [c.strip() for c in cells]
            if len(cells) == width - 1:
                # A row short by one empty cell (A10G): the memory column shifted left.
                cells.insert(header.index("memory") - 1, "")
            if len(cells) != width:
                raise BuildError(f"gpus.csv:{line}: {len(cells)} cells, expected {width}")
            r = dict(zip(header, cells, strict=True))
            out = {
                "name": r["name"],
                "kind": r["type"],
                "tdp_w": num(r["tdp_watts"]),
                "tflops_fp32": num(r["TFLOPS32"]),
                "tflops_fp16": num(r["TFLOPS16"]),
                "memory_gb": num(r["memory"]),
                "source": r["source"],
            }
            out.update(GPU_FIXES.get(r["name"], {}))
            rows.append([out[c] for c in GPU_COLUMNS])
    return rows


def instance_rows(shared: Path, gpus: list[list[str]]) -> list[list[str]]:
    """Cloud instance types: provider, name, the catalogue GPU they carry and how many."""
    names = {row[0] for row in gpus}
    rows = []
    for line, r in enumerate(read_csv(shared / "cloud_instances.csv"), start=2):
        name = r["id"].strip()
        gpu = r["gpu"].strip()
        gpu = INSTANCE_GPU_FIXES.get(name, INSTANCE_GPU_NAMES.get(gpu, gpu))
        if gpu not in names:
            raise BuildError(f"cloud_instances.csv:{line}: GPU {gpu!r} is not in gpus.csv")
        if name not in INSTANCE_ACCELERATORS:
            raise BuildError(f"cloud_instances.csv:{line}: no accelerator count for {name}")
        count = str(INSTANCE_ACCELERATORS[name])
        rows.append([r["provider"].strip(), name, gpu, count, r["source"].strip()])
    return rows


def _tab(path: Path) -> list[list[str]]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [line.split("\t") for line in lines if line and not line.startswith("#")]


def tz_rows(tzdata: Path, iso: Iso) -> tuple[list[list[str]], str]:
    """IANA timezone -> ISO3 country, from zone.tab, zone1970.tab and tzdata.zi links."""
    countries_of: dict[str, list[str]] = {}
    for cells in _tab(tzdata / "zone1970.tab"):
        countries_of[cells[2]] = cells[0].split(",")
    mapping: dict[str, str] = {}
    for cells in _tab(tzdata / "zone.tab"):
        mapping[cells[2]] = cells[0]
    for tz, codes in countries_of.items():
        mapping.setdefault(tz, codes[0])
    version = "unknown"
    zi = tzdata / "tzdata.zi"
    if zi.is_file():
        for line in zi.read_text(encoding="utf-8").splitlines():
            if line.startswith("# version "):
                version = line.split()[-1]
            elif line.startswith("L "):
                _, target, link = line.split()
                # Only links whose target is one country's zone: an old name such as
                # Iceland links to Africa/Abidjan, shared by a dozen countries.
                codes = countries_of.get(target) or ([mapping[target]] if target in mapping else [])
                if len(codes) == 1:
                    mapping.setdefault(link, codes[0])
    rows = [[tz, iso.iso3_of[cc]] for tz, cc in sorted(mapping.items()) if cc in iso.iso3_of]
    return rows, version


README = """\
# wattwise packaged data

Generated by `scripts/build_data.py` from the project's reference figures; do not edit by
hand. Regenerate with:

    pip install pycountry
    python scripts/build_data.py --shared ../shared/data --out src/wattwise/data

`tests/carbon/test_build_data.py` checks that a fresh run reproduces these files byte for
byte. Every zone row carries its own `year` and `source`.

## Files

| file | rows | what |
| --- | --- | --- |
| zones.csv | {n_zones} | electricity zones: {n_countries} countries (ISO 3166-1 alpha-3 ids), {n_states} US states (`US-XX`), {n_cloud} cloud regions (`provider:region`), and `WORLD`; intensity in gCO2e/kWh (CO2 only where the source says so), PUE where known |
| cpu_tdp.csv | {n_cpus} | CPU model name → TDP (W) |
| gpus.csv | {n_gpus} | accelerators: TDP (W), peak TFLOPS fp32/fp16, memory (GB), datasheet |
| instances.csv | {n_instances} | cloud instance types: provider, the catalogue accelerator they carry and how many |
| tz_countries.csv | {n_tz} | IANA timezone → ISO3 country, for the documented guess from the machine's timezone |

## Sources and licences

| data | source | year | licence |
| --- | --- | --- | --- |
| country intensity | Ember (2023) and Energy Institute Statistical Review of World Energy, processed by Our World in Data; compiled in CodeCarbon's `global_energy_mix.json` | per row: mostly 2022 and 2023 (a few 2021, Western Sahara 2009) | CC BY 4.0 (OWID); compilation MIT |
| US states | US EPA eGRID 2016, state CO2 output emission rate, compiled by CodeCarbon; converted from lbs/MWh with 453.59237 g/lb ÷ 1000. CO2 only, not CO2e | 2016 | public domain (US EPA) |
| Google Cloud regions | Google, "Carbon free energy for Google Cloud regions" (grid carbon intensity, average operational gross emissions), 2023 data, as compiled by CodeCarbon (2024) | 2023 | Google data; compilation MIT |
| AWS, Azure and other cloud regions; GCP per-region PUE | ML CO2 Impact calculator (Lacoste et al. 2019, `mlco2/impact` `data/impact.csv`), each row citing its original source | 2019 compilation (CoreWeave rows: Oct 2021-Oct 2022 averages) | MIT |
| world average | IEA Global Energy & CO2 Status Report 2019 (CO2 intensity of power generation, 475 g/kWh in 2018), via CodeCarbon | 2018 | IEA figure, cited |
| CPU TDP | Intel ARK and AMD specification pages, compiled by CodeCarbon (`cpu_power.csv`) | - | MIT compilation |
| GPUs | ML CO2 Impact calculator (`data/gpus.csv`) and vendor datasheets | - | MIT |
| cloud instances | ML CO2 Impact calculator (`data/instances.csv`: instance → GPU); accelerators per instance from the AWS instance-type pages it cites (P2, P3, G4) | - | MIT; counts cited |
| timezones | IANA tz database (`zone.tab`, `zone1970.tab`, links in `tzdata.zi`), tz database version {tz_version} | - | public domain |

## How the tables were cleaned

- Zone ids: countries by ISO3; lookups also accept ISO2, the English name and the
  `aliases` column (ISO 3166 official and common names from pycountry, plus UK).
- Google Cloud: Google's 2023 figures replace the older ML CO2 Impact ones; the per-region
  PUE listed by ML CO2 Impact (from Google's efficiency page) is kept. The compiled file's
  `me-cenrtal1` is Google's `me-central1`.
- Left out: `seeweb:fro2` (0 g, a 100 % renewable purchasing claim, not a grid intensity);
  the eGRID national row (the country table has a newer USA figure).
- `scaleway` had no region id; its Paris row is `scaleway:fr-par`.
- A bare region name (`eu-west-3`) is an alias when only one provider uses it.
- CPUs: runs of spaces (and no-break spaces) in names collapsed, exact duplicates merged;
  dropped, a garbled TDP range or a second, conflicting row for the same model:
  {cpus_dropped}.
- GPUs: headers stripped, `NaN`/`unk` emptied, the A10G row (one cell short) re-aligned,
  and clear errors fixed (`GPU_FIXES` in `scripts/build_data.py`, each with its reason):
  GTX 750 (55 W, 1.111 TFLOPS fp32, 1 GB), Quadro P6000 (fp16 0.197 TFLOPS), Tesla M40
  24GB (24 GB); H100 SXM/NVL and L4 fp16 halved to the dense peak (the source had the
  "with sparsity" figures) with the datasheet's fp32; V100 fp16 set to the dense
  tensor-core peak (125 SXM2, 112 PCIe), fp32 and the swapped TDPs (PCIe 250 W, SXM2
  300 W) from NVIDIA's V100 datasheet; Tesla K80 150 W (one GK210, as its memory and
  FLOP/s are); AGX Xavier's INT8 TOPS removed from the FLOP/s columns. The fp16 column
  is the dense tensor-core peak where a card has tensor cores and the source gives it;
  some consumer rows hold the non-tensor figure. TPU rows give average power, not TDP
  (as their source says).
- Timezones: every `zone.tab` entry, then `zone1970.tab`, then legacy link names whose
  target is a single country's zone (so `US/Pacific` maps to USA, while `Iceland`, a link
  to the multi-country `Africa/Abidjan`, is left out).

## Known gaps

- AWS, Azure and the smaller providers' figures date from 2019 and earlier; the country
  row (e.g. `DEU`) is usually more recent. Use `--zone`, `--intensity`, an hourly CSV or a
  live provider when it matters.
- US states are from eGRID 2016 and count CO2 only.
- Cross-check: the generation-weighted mean of the {n_countries} country rows is
  {world_check} gCO2e/kWh (mixed years 2021-2023), close to the `WORLD` row's 475.
"""  # noqa: E501


def build(shared: Path, out: Path, tzdata: Path) -> list[Path]:
    """Write every table into ``out``; returns the paths written."""
    if not shared.is_dir():
        raise BuildError(f"no shared data folder at {shared}")
    iso = Iso()
    countries = country_rows(shared, iso)
    states = state_rows(shared)
    clouds = cloud_rows(shared, iso, countries)
    zones = [world_row(shared), *countries, *states, *clouds]
    ids = [z[0].casefold() for z in zones]
    if len(ids) != len(set(ids)):
        raise BuildError("duplicate zone ids")
    cpus, cpus_dropped = cpu_rows(shared)
    gpus = gpu_rows(shared)
    instances = instance_rows(shared, gpus)
    tz, tz_version = tz_rows(tzdata, iso)
    mean, n_countries = weighted_world(shared)

    out.mkdir(parents=True, exist_ok=True)
    names = ("zones.csv", "cpu_tdp.csv", "gpus.csv", "tz_countries.csv", "instances.csv")
    written = [out / n for n in names]
    write_csv(written[0], ZONE_COLUMNS, zones)
    write_csv(written[1], ("name", "tdp_w"), cpus)
    write_csv(written[2], GPU_COLUMNS, gpus)
    write_csv(written[3], ("timezone", "country_iso3"), tz)
    write_csv(written[4], INSTANCE_COLUMNS, instances)
    readme = README.format(
        n_zones=len(zones),
        n_countries=n_countries,
        n_states=len(states),
        n_cloud=len(clouds),
        n_cpus=len(cpus),
        n_gpus=len(gpus),
        n_instances=len(instances),
        n_tz=len(tz),
        tz_version=tz_version,
        world_check=f"{mean:.0f}",
        cpus_dropped=", ".join(cpus_dropped) or "none",
    )
    (out / "README.md").write_text(readme, encoding="utf-8", newline="")
    return [*written, out / "README.md"]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--shared",
        type=Path,
        default=REPO.parent / "shared" / "data",
        help="folder of reference figures (default: ../shared/data)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=REPO / "src" / "wattwise" / "data",
        help="where to write the tables (default: src/wattwise/data)",
    )
    parser.add_argument(
        "--tzdata",
        type=Path,
        default=Path("/usr/share/zoneinfo"),
        help="tz database folder with zone.tab (default: /usr/share/zoneinfo)",
    )
    args = parser.parse_args(argv)
    try:
        paths = build(args.shared, args.out, args.tzdata)
    except (BuildError, OSError, KeyError, ValueError) as exc:
        print(f"build_data: {exc}", file=sys.stderr)
        return 2
    for path in paths:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
