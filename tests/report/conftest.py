"""Fixtures for the report tests: one headless Chromium for the whole session."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from chromium import Browser, find_chromium


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """A headless Chromium shared by the session's tests (see ``tests/report/chromium.py``).

    Skips when no Chromium is installed, or fails when ``WATTWISE_REQUIRE_CHROMIUM=1`` (CI).
    """
    binary = find_chromium()
    if binary is None:
        message = (
            "no Chromium found (install Debian's chromium, or set WATTWISE_CHROMIUM"
            f" to a binary; WATTWISE_CHROMIUM={os.environ.get('WATTWISE_CHROMIUM', '')!r})"
        )
        if os.environ.get("WATTWISE_REQUIRE_CHROMIUM") == "1":
            pytest.fail(message)
        pytest.skip(message)
    with Browser(binary) as instance:
        yield instance
