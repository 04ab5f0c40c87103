"""The public surface of wattwise.carbon."""

from __future__ import annotations

import wattwise.carbon as carbon


def test_every_exported_name_resolves() -> None:
    missing = [name for name in carbon.__all__ if not hasattr(carbon, name)]
    assert missing == []
    assert len(set(carbon.__all__)) == len(carbon.__all__)


def test_the_entry_points_users_need_are_exported() -> None:
    for name in ("resolve_zone", "resolve_pue", "load_zones", "StaticIntensity", "Zone"):
        assert name in carbon.__all__
