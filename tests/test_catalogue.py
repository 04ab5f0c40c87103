"""The hardware catalogue: packaged tables, fuzzy search, lookups, user files, the CLI."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from wattwise.catalogue import (
    KINDS,
    HardwareEntry,
    UnknownHardwareError,
    catalogue,
    load_user_file,
    lookup,
    search,
)
from wattwise.cli import _HW_KINDS, main
from wattwise.exceptions import ConfigError


def names(query: str, **kw: object) -> list[str]:
    return [m.entry.name for m in search(query, **kw)]  # type: ignore[arg-type]


# -- the packaged catalogue ---------------------------------------------------------------


def test_the_catalogue_holds_accelerators_cpus_and_instances() -> None:
    entries = catalogue()
    kinds = {e.kind for e in entries}
    assert kinds == set(KINDS)
    h100 = next(e for e in entries if e.name == "H100 SXM")
    assert (h100.kind, h100.tdp_w, h100.memory_gb) == ("gpu", 700.0, 80.0)
    assert h100.tflops_fp16 is not None and h100.tflops_fp16 > h100.tflops_fp32  # type: ignore[operator]
    assert h100.source.startswith("https://")
    assert sum(e.kind == "cpu" for e in entries) > 1000
    assert next(e for e in entries if e.name == "TPUv3 Chip").kind == "tpu"


def test_an_instance_carries_its_accelerators_totals() -> None:
    p3 = lookup("p3.8xlarge")
    v100 = lookup("Tesla V100-SXM2-16GB")
    assert (p3.kind, p3.provider, p3.accelerator, p3.accelerator_count) == (
        "instance",
        "aws",
        "Tesla V100-SXM2-16GB",
        4,
    )
    assert p3.tdp_w == pytest.approx(4 * v100.tdp_w)  # type: ignore[operator]
    assert p3.tflops_fp32 == pytest.approx(4 * v100.tflops_fp32)  # type: ignore[operator]
    assert p3.memory_gb == pytest.approx(4 * v100.memory_gb)  # type: ignore[operator]
    assert lookup("p3dn.24xlarge").accelerator == "Tesla V100-SXM2-32GB"
    assert lookup("g4dn.12xlarge").accelerator_count == 4


def test_every_instance_names_a_catalogue_accelerator() -> None:
    devices = {e.name for e in catalogue() if e.kind != "instance"}
    instances = [e for e in catalogue() if e.kind == "instance"]
    assert len(instances) == 14
    assert all(e.accelerator in devices and (e.accelerator_count or 0) >= 1 for e in instances)


# -- search -------------------------------------------------------------------------------


def test_h100_finds_the_h100s_first() -> None:
    hits = search("h100", limit=5)
    assert {m.entry.name for m in hits[:2]} == {"H100 SXM", "H100 NVL"}
    assert hits[0].score == hits[1].score > hits[2].score
    assert all(a.score >= b.score for a, b in itertools.pairwise(hits))


def test_vendor_words_case_and_separators_do_not_matter() -> None:
    assert names("NVIDIA A100-SXM4-80GB", limit=1) == ["A100 SXM4 80 GB"]
    assert search("a100 sxm4 80 gb", limit=1)[0].score == 1.0
    assert names("rtx 4090", limit=1) == ["RTX 4090"]
    assert names("TPU v3", limit=1) == ["TPUv3 Chip"]


def test_a_bare_model_number_prefers_accelerators_to_cpus() -> None:
    # the Atom "Intel A100" is a CPU: a bare "a100" means the GPUs first
    assert names("a100", limit=3)[:2] == ["A100 SXM4 80 GB", "A100 PCIe 40/80GB"]
    assert names("a100", kind="cpu", limit=1) == ["Intel A100"]


def test_instances_are_found_by_the_accelerator_they_carry() -> None:
    hits = names("v100", limit=10)
    gpus = [n for n in hits if n.startswith("Tesla V100")]
    assert len(gpus) == 3 and hits[:3] == sorted(gpus)
    assert {"p3.2xlarge", "p3.8xlarge"} <= set(names("v100", kind="instance", limit=10))
    assert names("p3.8xlarge", limit=1) == ["p3.8xlarge"]


def test_kind_filters_and_limits() -> None:
    assert all(m.entry.kind == "cpu" for m in search("xeon gold", kind="cpu", limit=5))
    assert len(search("xeon", kind="cpu", limit=3)) == 3
    both = search("t4", kind=["gpu", "instance"], limit=20)
    assert {m.entry.kind for m in both} == {"gpu", "instance"}


@pytest.mark.parametrize(
    ("query", "kw", "match"),
    [
        ("  ", {}, "give a hardware name"),
        ("h100", {"kind": "fpga"}, "kind must be one of"),
        ("h100", {"kind": []}, "kind must be one of"),
        ("h100", {"limit": 0}, "limit must be"),
        ("h100", {"limit": True}, "limit must be"),
    ],
)
def test_bad_searches_are_config_errors(query: str, kw: dict[str, object], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        search(query, **kw)  # type: ignore[arg-type]


# -- lookup -------------------------------------------------------------------------------


def test_lookup_resolves_exact_and_clear_names() -> None:
    assert lookup("T4").name == "T4"
    assert lookup("t4").name == "T4"
    assert lookup("NVIDIA A100-SXM4-80GB").name == "A100 SXM4 80 GB"
    assert lookup("a100 sxm").name == "A100 SXM4 80 GB"
    assert lookup("xeon gold 6148").name == "Intel Xeon Gold 6148"
    assert lookup("Intel A100").name == "Intel A100"


@pytest.mark.parametrize(
    ("name", "closest"),
    [
        ("H200", ["H100 SXM", "H100 NVL"]),  # not in the catalogue
        ("h100", ["H100 SXM", "H100 NVL"]),  # two H100s: ambiguous (see below)
        ("a100", ["A100 SXM4 80 GB", "A100 PCIe 40/80GB", "Intel A100"]),  # GPU or Atom?
        ("i7-12700", ["Intel Core i7-12700H", "Intel Core i7-12700K"]),
    ],
)
def test_unknown_or_ambiguous_names_list_the_closest(name: str, closest: list[str]) -> None:
    with pytest.raises(UnknownHardwareError) as info:
        lookup(name)
    text = str(info.value)
    ambiguous = name in ("h100", "a100")  # several entries score >= 0.8
    start = f"hardware {name!r} is ambiguous" if ambiguous else f"unknown hardware {name!r}"
    assert text.startswith(f"{start}; closest: ")
    for n in closest:
        assert n in text
    assert isinstance(info.value, ConfigError)


# -- user files ---------------------------------------------------------------------------

USER_CSV = """name,kind,tdp_w,tflops_fp32,tflops_fp16,memory_gb,accelerator,accelerator_count,source
H200 SXM,gpu,700,67,989,141,,,https://example.org/h200
H100 SXM,gpu,690,,,80,,,my measurement
my-8xh200,instance,,,,,H200 SXM,8,
"""


def test_a_user_file_adds_and_replaces_entries(tmp_path: Path) -> None:
    path = tmp_path / "hw.csv"
    path.write_text(USER_CSV, encoding="utf-8")
    entries = catalogue(path)
    h200 = lookup("H200 SXM", entries=entries)
    assert (h200.tdp_w, h200.memory_gb, h200.source) == (700.0, 141.0, "https://example.org/h200")
    h100 = [e for e in entries if e.name == "H100 SXM"]
    assert len(h100) == 1 and h100[0].tdp_w == 690.0  # the user's row replaces the packaged one
    node = lookup("my-8xh200", entries=entries)
    assert (node.accelerator, node.accelerator_count, node.tdp_w) == ("H200 SXM", 8, 5600.0)
    assert node.source == f"user file {path}"
    assert names("h200", entries=entries, limit=1) == ["H200 SXM"]
    assert len(catalogue()) == len(entries) - 2  # the packaged catalogue is untouched


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("name,tdp_w\nX,3\n", "header needs kind"),
        ("name,kind,tdp_w,colour\nX,gpu,3,red\n", "unknown column"),
        ("name,kind,tdp_w\nX,fpga,3\n", r"hw.csv:2: kind must be one of"),
        ("name,kind,tdp_w\nX,gpu,3\nY,gpu,hot\n", r"hw.csv:3: tdp_w must be a number"),
        ("name,kind,tdp_w\nX,gpu,-3\n", r"hw.csv:2: tdp_w must be a finite number ≥ 0"),
        ("name,kind,tdp_w\nX,gpu,\n", r"hw.csv:2: tdp_w is required"),
        ("name,kind,tdp_w\n,gpu,3\n", r"hw.csv:2: empty name"),
        ("name,kind,tdp_w\nX,gpu,3,extra\n", r"hw.csv:2: more cells than columns"),
        (
            "name,kind,tdp_w,accelerator,accelerator_count\nn,instance,,B300,8\n",
            r"hw.csv:2: instance 'n' names an unknown accelerator 'B300'",
        ),
        (
            "name,kind,tdp_w,accelerator,accelerator_count\nn,instance,,T4,two\n",
            r"hw.csv:2: accelerator_count must be an integer ≥ 1",
        ),
    ],
)
def test_bad_user_files_name_the_line(tmp_path: Path, text: str, match: str) -> None:
    path = tmp_path / "hw.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=match):
        load_user_file(path)


def test_a_missing_user_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read hardware file"):
        catalogue(tmp_path / "nope.csv")


def test_entries_are_frozen_and_json_ready() -> None:
    entry = lookup("T4")
    assert isinstance(entry, HardwareEntry)
    with pytest.raises(AttributeError):
        entry.name = "x"  # type: ignore[misc]
    assert json.loads(json.dumps(entry.to_dict()))["name"] == "T4"


# -- CLI ----------------------------------------------------------------------------------


def cli(*args: str) -> Result:
    return CliRunner().invoke(main, ["hardware", *args], prog_name="wattwise")


def test_cli_kinds_are_the_catalogues() -> None:
    assert tuple(_HW_KINDS) == KINDS


def test_cli_search_prints_a_table_and_json() -> None:
    result = cli("search", "h100", "--limit", "3")
    assert result.exit_code == 0, result.output
    assert "H100 SXM" in result.stdout and "H100 NVL" in result.stdout and "700" in result.stdout
    doc = json.loads(cli("search", "v100", "--kind", "instance", "--json").stdout)
    assert doc and all(d["kind"] == "instance" for d in doc)
    assert all(0 < d["score"] <= 1 for d in doc)


def test_cli_show_prints_an_entry_and_its_source(tmp_path: Path) -> None:
    result = cli("show", "p3.8xlarge")
    assert result.exit_code == 0, result.output
    assert "accelerator_count  4" in result.stdout
    assert "aws.amazon.com" in result.stdout
    path = tmp_path / "hw.csv"
    path.write_text(USER_CSV, encoding="utf-8")
    doc = json.loads(cli("show", "my-8xh200", "--file", str(path), "--json").stdout)
    assert doc["tdp_w"] == 5600.0


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["show", "H200"], "unknown hardware 'H200'; closest: "),
        (["search", "zzzzqqqq"], "no hardware matches 'zzzzqqqq'"),
        (["search", "h100", "--file", "/nonexistent/hw.csv"], "cannot read hardware file"),
    ],
)
def test_cli_user_errors_are_one_line(args: list[str], needle: str) -> None:
    result = cli(*args)
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0] and "Traceback" not in result.output
