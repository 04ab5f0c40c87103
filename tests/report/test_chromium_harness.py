"""The headless Chromium harness itself, on tiny pages written to tmp_path."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from chromium import Browser, ChromiumError

_VIEWPORT = '<meta name="viewport" content="width=device-width, initial-scale=1">'


def _page(tmp_path: Path, body: str, head: str = "", name: str = "page.html") -> Path:
    path = tmp_path / name
    path.write_text(
        f"<!doctype html><html><head><meta charset='utf-8'>{head}<title>t</title></head>"
        f"<body>{body}</body></html>",
        encoding="utf-8",
    )
    return path


def test_clean_page_has_no_errors_and_evaluate_reads_the_dom(
    browser: Browser, tmp_path: Path
) -> None:
    page = browser.open(
        _page(tmp_path, '<h1 id="h">Hello</h1><script>console.log("hi", 2)</script>')
    )
    try:
        assert page.errors == []
        assert page.console == [("log", "hi 2")]
        assert page.evaluate("document.getElementById('h').textContent") == "Hello"
        assert page.evaluate("Promise.resolve({a: [1, 2]})") == {"a": [1, 2]}
        with pytest.raises(AssertionError, match="nope"):
            page.evaluate("(() => { throw new Error('nope') })()")
    finally:
        page.close()


def test_console_error_and_uncaught_exception_are_errors(browser: Browser, tmp_path: Path) -> None:
    logged = browser.open(_page(tmp_path, '<script>console.error("x")</script>', name="a.html"))
    thrown = browser.open(
        _page(tmp_path, '<script>throw new TypeError("boom")</script>', name="b.html")
    )
    try:
        assert logged.errors == ["console.error: x"]
        assert len(thrown.errors) == 1
        assert "TypeError: boom" in thrown.errors[0]
    finally:
        logged.close()
        thrown.close()


def test_requests_are_recorded(browser: Browser, tmp_path: Path) -> None:
    page = browser.open(_page(tmp_path, '<img src="http://127.0.0.1:9/x.png" alt="">'))
    try:
        assert "http://127.0.0.1:9/x.png" in page.requests
    finally:
        page.close()


def test_csp_violation_is_an_error_and_the_script_does_not_run(
    browser: Browser, tmp_path: Path
) -> None:
    csp = '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'">'
    page = browser.open(_page(tmp_path, "<script>window.ran = true</script>", head=csp))
    try:
        assert page.evaluate("window.ran === undefined") is True
        assert any("Content Security Policy" in error for error in page.errors), page.errors
    finally:
        page.close()


def test_alert_is_captured_and_dismissed(browser: Browser, tmp_path: Path) -> None:
    page = browser.open(
        _page(tmp_path, '<script>alert("hello"); document.title = "after"</script>'),
        timeout_s=10,
    )
    try:
        assert page.dialogs == ["hello"]
        assert page.evaluate("document.title") == "after"
    finally:
        page.close()


def test_screenshot_is_a_png_of_the_emulated_width(browser: Browser, tmp_path: Path) -> None:
    page = browser.open(_page(tmp_path, "<p>shot</p>"), width=640, height=480)
    try:
        shot = tmp_path / "shot.png"
        data = page.screenshot(shot)
    finally:
        page.close()
    assert shot.read_bytes() == data
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    assert width == 640
    assert height >= 480


def test_mobile_emulation_sets_the_viewport(browser: Browser, tmp_path: Path) -> None:
    page = browser.open(
        _page(tmp_path, "<p>phone</p>", head=_VIEWPORT), width=390, height=844, mobile=True
    )
    try:
        assert page.evaluate("window.innerWidth") == 390
        assert page.evaluate("matchMedia('(max-width: 400px)').matches") is True
    finally:
        page.close()


def test_missing_file_is_a_clear_error(browser: Browser, tmp_path: Path) -> None:
    with pytest.raises(ChromiumError, match="ERR_FILE_NOT_FOUND"):
        browser.open(tmp_path / "missing.html", timeout_s=10)
