"""The optimize result's terminal table and HTML page (hand-made results, no torch)."""

from __future__ import annotations

import dataclasses
import importlib.util
import io
import os
import shutil
import struct
import sys
import zlib
from collections.abc import Iterator, Mapping
from datetime import datetime, timezone
from html.parser import HTMLParser
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from rich.console import Console

from wattwise.optimizing.result import InferenceFigures, OptimizeResult, Variant, choose
from wattwise.optimizing.show import html_optimize, print_result

MiB = 1024 * 1024


def figures(batch: int, energy: float, latency_ms: float) -> InferenceFigures:
    return InferenceFigures(
        batch_size=batch,
        energy_per_1000_j=energy,
        energy_min_j=energy * 0.9,
        energy_max_j=energy * 1.2,
        latency_ms=latency_ms,
        samples_per_s=batch / latency_ms * 1000,
        repeats=5,
        samples=5 * batch * 20,
    )


def variant(
    name: str,
    accuracy: float,
    *,
    train_j: float,
    prereq_j: float = 0.0,
    infer_j: float = 1.0,
    latency_ms: float = 0.2,
    size: int = MiB,
    nonzero: int = 100_000,
    facts: Mapping[str, str] | None = None,
    notes: tuple[str, ...] = (),
    recipe: str = "",
) -> Variant:
    return Variant(
        name=name,
        recipe=recipe or name.split()[0],
        description=f"{name}: made by hand",
        accuracy=accuracy,
        ece=0.02 + (0.9812 - accuracy),
        noise_accuracy=accuracy - 0.07,
        train_energy_j=train_j,
        train_co2_g=train_j / 3.6e6 * 50,
        prerequisite_j=prereq_j,
        inference=(figures(1, infer_j * 20, latency_ms), figures(256, infer_j, latency_ms * 9)),
        size_bytes=size,
        parameters=100_000,
        nonzero_parameters=nonzero,
        facts=facts if facts is not None else {"weights": "torch.float32"},
        notes=notes,
        method="measured",
    )


def failed(name: str, error: str) -> Variant:
    return Variant.failed(name, name.split()[0], error, description="")


PRUNE_NOTES = (
    "the zeros are stored: the saved file is as large as the baseline's",
    "no speed-up: dense kernels multiply the zeros too",
)
INT8_NOTE = "Linear layers quantized to int8; the others stay float32"


def make_result(*, first_name: str = "baseline") -> OptimizeResult:
    base = variant(first_name, 0.9812, train_j=5400.0, infer_j=0.85, recipe="baseline")
    return choose(
        "mnist-mlp",
        [
            base,
            variant(
                "prune 50%",
                0.9790,
                train_j=800.0,
                prereq_j=5400.0,
                infer_j=0.84,
                nonzero=50_000,
                notes=PRUNE_NOTES,
            ),
            variant(
                "int8 dynamic",
                0.9805,
                train_j=0.0,
                prereq_j=5400.0,
                infer_j=0.31,
                latency_ms=0.12,
                size=330 * 1024,
                facts={"weights": "qint8, torch.float32"},
                notes=(INT8_NOTE,),
            ),
            variant(
                "distill small",
                0.9702,
                train_j=2100.0,
                prereq_j=5400.0,
                infer_j=0.12,
                size=150 * 1024,
            ),
            failed("fp16 static", "RuntimeError: no fp16 kernels for Linear on this CPU"),
            variant(
                "bf16 autocast",
                0.9811,
                train_j=3100.0,
                infer_j=0.9,
                facts={"weights": "torch.float32", "compute": "torch.bfloat16"},
            ),
        ],
        tolerance=0.01,
        objective="inference",
        noise_std=0.15,
        store="/tmp/runs.db",
    )


NASTY = "<script>alert(1)</script> [bold]x[/bold]"
# read at import: the suite's autouse fixture clears WATTWISE_* before each test
KEEP_SCREENSHOTS = os.environ.get("WATTWISE_SCREENSHOT_DIR")
REQUIRE_CHROMIUM = os.environ.get("WATTWISE_REQUIRE_CHROMIUM") == "1"


def render(result: OptimizeResult) -> list[str]:
    console = Console(width=100, record=True, file=io.StringIO())
    print_result(result, console)
    return console.export_text().splitlines()


def row(lines: list[str], name: str) -> tuple[str, str]:
    """The table row starting with ``name`` and the line under it."""
    i = next(i for i, line in enumerate(lines) if line.startswith(name + " "))
    return lines[i], lines[i + 1]


# -- terminal ------------------------------------------------------------------------------
def test_the_table_has_every_figure_and_marker_on_its_row() -> None:
    lines = render(make_result())
    assert all(len(line) <= 100 for line in lines)
    assert lines[0].startswith("optimize mnist-mlp · objective: inference energy · tolerance 1 pt")
    assert "energy measured" in lines[0]
    names = ["baseline", "distill small", "int8 dynamic", "prune 50%", "bf16 autocast", "fp16"]
    order = [next(i for i, ln in enumerate(lines) if ln.startswith(n + " ")) for n in names]
    assert order == sorted(order)  # baseline, then by rising inference energy, failed last
    base, _ = row(lines, "baseline")
    assert base.split()[1:4] == ["98.12", "ref", "0.020"]
    assert "91.12" in base and "5.40 kJ" in base and "0.850 J" in base and "1.0 MiB" in base
    assert base.rstrip().endswith("fp32        I T")
    rec, under = row(lines, "int8 dynamic")
    assert rec.split()[2:7] == ["98.05", "-0.07", "0.021", "91.05", "0.0"]
    assert "0.310 J" in rec and "0.120" in rec and "330 KiB" in rec and "qint8," in rec
    assert rec.rstrip().endswith(" ★ I")
    assert "(5.40 kJ)" in under and "2.7× less" in under  # training total, inference ratio
    distill, under = row(lines, "distill small")
    assert "-1.10" in distill and "0.120 J" in distill and distill.rstrip().endswith("  I")
    assert "(7.50 kJ)" in under and "7.1× less" in under
    prune, under = row(lines, "prune 50%")
    assert "800.0 J" in prune and "50%" in prune and not prune.rstrip().endswith(("I", "T"))
    assert "(6.20 kJ)" in under and "≈ same" in under and "zeros" in under
    bf16, under = row(lines, "bf16 autocast")
    assert bf16.rstrip().endswith("fp32, bf16  T") and "1.1× more" in under
    assert "(" not in under  # trained from scratch: no prerequisites, no total
    failed, under = row(lines, "fp16 static")
    assert failed.split()[2:] == ["—"] * 9 and "✗ failed" in under
    text = "\n".join(lines)
    assert "✗ fp16 static failed: RuntimeError: no fp16 kernels for Linear on this CPU" in text
    assert "★ recommended (least inference energy within 1 pt" in text
    assert sum("★" in lines[i] for i in order) == 1


def test_notes_follow_the_table_and_the_verdict_comes_last() -> None:
    result = make_result()
    lines = render(result)
    text = "\n".join(lines)
    int8 = lines.index("int8 dynamic")
    assert lines[int8 + 1].strip() == f"• {INT8_NOTE}"
    prune = lines.index("prune 50%")
    assert [ln.strip() for ln in lines[prune + 1 : prune + 3]] == [f"• {n}" for n in PRUNE_NOTES]
    assert "baseline\n" not in text.split("✗ fp16 static failed")[1]  # no empty note blocks
    verdict = " ".join(text.split("\n\n")[-1].split())
    assert verdict == " ".join(result.verdict().split())
    assert verdict.startswith("Recommended: int8 dynamic — 2.7× less inference energy")


def test_the_training_objective_orders_and_recommends_by_training_total() -> None:
    inference = make_result()
    result = choose(
        inference.name, inference.variants, tolerance=0.01, objective="training", noise_std=0.15
    )
    lines = render(result)
    names = ["baseline", "bf16 autocast", "int8 dynamic", "prune 50%", "distill small", "fp16"]
    order = [next(i for i, ln in enumerate(lines) if ln.startswith(n + " ")) for n in names]
    assert order == sorted(order)
    assert "objective: training energy" in lines[0]
    bf16, under = row(lines, "bf16 autocast")
    assert bf16.rstrip().endswith("★ T")
    assert under.split()[:2] == ["1.7×", "less"]  # training ratio, then the inference one
    assert "Recommended: bf16 autocast — 1.7× less training energy" in " ".join(lines)


def test_markup_and_html_in_names_print_as_text() -> None:
    result = dataclasses.replace(make_result(first_name=NASTY), name=NASTY)
    lines = render(result)
    assert lines[0].startswith(f"optimize {NASTY} · objective")
    assert lines[lines.index(next(ln for ln in lines if ln.startswith("─"))) + 1].startswith(
        "<script>alert("
    )
    assert "[bold]x[/bold]" in "\n".join(lines[5:])


def test_a_failed_baseline_prints_and_the_page_renders() -> None:
    result = choose(
        "broken",
        [failed("baseline", "ValueError: bad data"), failed("prune 50%", "needs a baseline")],
        tolerance=0.01,
        objective="inference",
        noise_std=0.1,
    )
    text = "\n".join(render(result))
    assert "✗ baseline failed: ValueError: bad data" in text
    assert "The baseline did not train or score: nothing to compare against." in text
    page = html_optimize(result)
    assert page.count("no data") == 2 and "no variant was measured" in page


# -- HTML ----------------------------------------------------------------------------------
class Tags(HTMLParser):
    """Start tags with their attributes, and the text, as a browser's tokenizer sees them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(page: str) -> Tags:
    parser = Tags()
    parser.feed(page)
    parser.close()
    return parser


@pytest.fixture(scope="module")
def page() -> str:
    result = dataclasses.replace(make_result(first_name=NASTY), name=NASTY)
    return html_optimize(result, generated_at=datetime(2025, 1, 2, tzinfo=timezone.utc))


def test_the_page_has_the_table_both_charts_and_the_methods(page: str) -> None:
    doc = parse(page)
    text = " ".join(doc.text)
    charts = [a.get("data-chart") for t, a in doc.tags if t == "svg"]
    assert charts == ["accuracy-vs-inference", "accuracy-vs-training"]
    charts_html = page.split('data-chart="accuracy-vs-inference"')[1]
    inference, training = charts_html.split('data-chart="accuracy-vs-training"')
    assert inference.count('class="dot marked"') == 3  # distill, int8, baseline
    assert inference.count('class="dot"') == 2
    assert "★ int8 dynamic</text>" in inference and ">distill small</text>" in inference
    assert training.count('class="dot marked"') == 2  # bf16 autocast, baseline
    assert ">bf16 autocast</text>" in training and "★" not in training.split("</svg>")[0]
    # the variants table: one row each, baseline first; the failed one spans the figures
    body = page.split('<table id="variants">')[1].split("</table>")[0]
    assert body.count("<tr") == 7 and body.count('colspan="10"') == 1
    assert "RuntimeError: no fp16 kernels for Linear on this CPU" in body
    assert "2.7× less" in body and "total 5.40 kJ" in body and "50% zeros" in body
    assert "qint8, float32" in body and "float32, bfloat16 compute" in body
    assert body.count("★ recommended") == 1
    batches = page.split('<table id="batches">')[1].split("</table>")[0]
    assert batches.count("<tr") == 11  # header + 5 variants × 2 batch sizes
    assert "0.279 – 0.372" in batches and "237,037" in batches
    assert INT8_NOTE in text and PRUNE_NOTES[1] in text
    assert "Recommended: int8 dynamic — 2.7× less inference energy" in text
    assert "standard deviation 0.15" in text and "over 15 equal-width" in text
    assert "headline energy (measured)" in text and "includes its prerequisites" in text


def test_the_page_escapes_names_and_cannot_run_anything(page: str) -> None:
    doc = parse(page)
    names = [t for t, _ in doc.tags]
    assert "script" not in names and "<script" not in page
    assert NASTY in doc.text  # the h1, as text
    assert sum(NASTY in t for t in doc.text) >= 4  # title, h1, table, batches table
    metas = [a for t, a in doc.tags if t == "meta" and a.get("http-equiv")]
    assert metas and metas[0]["http-equiv"] == "Content-Security-Policy"
    assert "default-src 'none'" in (metas[0].get("content") or "")
    for attr in ("src=", "href=", "url(", "@import"):
        assert attr not in page


# -- in a browser --------------------------------------------------------------------------
def _chromium() -> ModuleType:
    """tests/report/chromium.py (the report tests import it by its folder on sys.path)."""
    if "chromium" in sys.modules:
        return sys.modules["chromium"]
    path = Path(__file__).resolve().parents[1] / "report" / "chromium.py"
    spec = importlib.util.spec_from_file_location("chromium", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["chromium"] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """A headless Chromium; skipped without one, failed when WATTWISE_REQUIRE_CHROMIUM=1."""
    chromium = _chromium()
    binary = chromium.find_chromium()
    if binary is None:
        message = "no Chromium found (install Debian's chromium, or set WATTWISE_CHROMIUM)"
        if REQUIRE_CHROMIUM:
            pytest.fail(message)
        pytest.skip(message)
    with chromium.Browser(binary) as instance:
        yield instance


def _not_blank(png: bytes) -> bool:
    """Whether the PNG's pixel rows hold more than a few distinct byte values."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    data, at = b"", 8
    while at < len(png):
        (length,) = struct.unpack(">I", png[at : at + 4])
        if png[at + 4 : at + 8] == b"IDAT":
            data += png[at + 8 : at + 8 + length]
        at += 12 + length
    pixels = zlib.decompress(data)
    return len(set(pixels[:: max(1, len(pixels) // 20_000)])) > 16


def _shot(tab: Any, tmp_path: Path, name: str) -> bytes:
    data: bytes = tab.screenshot(tmp_path / name)
    if KEEP_SCREENSHOTS:
        Path(KEEP_SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        shutil.copy(tmp_path / name, Path(KEEP_SCREENSHOTS) / name)
    return data


@pytest.mark.parametrize(
    ("width", "mobile"), [(1280, False), (390, True)], ids=["desktop", "phone"]
)
def test_the_page_renders_in_chromium(
    browser: Any, page: str, tmp_path: Path, width: int, mobile: bool
) -> None:
    path = tmp_path / "optimize.html"
    path.write_text(page, encoding="utf-8")
    with browser.open(path, width=width, height=900, mobile=mobile) as tab:
        assert tab.errors == [] and tab.dialogs == []
        assert [u for u in tab.requests if not u.startswith("file:")] == []
        assert tab.evaluate("document.querySelector('h1').textContent") == NASTY
        assert tab.evaluate("document.querySelectorAll('script').length") == 0
        # no sideways scrolling of the page; wide tables scroll inside their own box
        assert tab.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        charts = tab.evaluate(
            "[...document.querySelectorAll('figure.chart svg')].map(s => s.clientWidth)"
        )
        assert len(charts) == 2 and all(300 <= w <= width for w in charts)
        table = "document.querySelector('#variants').parentElement"
        if not mobile:  # the whole table fits a laptop screen
            assert tab.evaluate(f"{table}.scrollWidth <= {table}.clientWidth + 1")
        else:  # the names stay in view while the figures scroll under them
            tab.evaluate(f"{table}.scrollLeft = 400")
            left = tab.evaluate(
                "document.querySelector('#variants td.name').getBoundingClientRect().left"
            )
            assert 0 <= left <= 20
        png = _shot(tab, tmp_path, f"optimize-{'phone' if mobile else 'desktop'}.png")
        assert _not_blank(png)


def test_a_variant_far_beyond_the_baseline_is_listed_under_the_chart_not_drawn() -> None:
    base = variant("baseline", 0.98, train_j=100.0, infer_j=1.0, recipe="baseline")
    slow = variant("bf16 autocast", 0.979, train_j=90.0, infer_j=11.0)
    small = variant("student", 0.975, train_j=40.0, infer_j=0.4)
    result = choose(
        "outlier", [base, slow, small], tolerance=0.01, objective="inference", noise_std=0.1
    )
    page = html_optimize(result)
    inference = page.split('id="chart-accuracy-vs-inference"', 1)[1].split("</figure>", 1)[0]
    training = page.split('id="chart-accuracy-vs-training"', 1)[1].split("</figure>", 1)[0]
    assert "bf16 autocast: accuracy" not in inference  # 11× the baseline: off this chart
    assert "bf16 autocast: accuracy" in training  # 0.9× the baseline: drawn
    assert "Off the chart (over 5× the baseline&#x27;s energy): bf16 autocast (11.0 J)." in page
