"""The shared GPU helpers: *_VISIBLE_DEVICES parsing and process-share arithmetic."""

from __future__ import annotations

import pytest

from wattwise.sensors._visible import (
    Selection,
    busy_share,
    context_share,
    match_prefix,
    parse_index,
    select,
    split_visible,
)


@pytest.mark.parametrize(
    ("value", "entries"),
    [
        ("", []),
        ("   ", []),
        ("0", ["0"]),
        ("0, 2 ,1", ["0", "2", "1"]),
        ("GPU-abc,MIG-def", ["GPU-abc", "MIG-def"]),
        ("0,,1", ["0", "", "1"]),
    ],
)
def test_split_visible(value: str, entries: list[str]) -> None:
    assert split_visible(value) == entries


@pytest.mark.parametrize(
    ("entry", "count", "index"),
    [
        ("0", 2, 0),
        ("1", 2, 1),
        ("2", 2, None),
        ("-1", 2, None),
        ("+1", 2, None),
        ("1.0", 2, None),
        ("", 2, None),
        ("٣", 5, None),  # a non-ASCII digit is not an index
        ("GPU-1", 2, None),
    ],
)
def test_parse_index(entry: str, count: int, index: int | None) -> None:
    assert parse_index(entry, count) == index


UUIDS = [
    ["GPU-8932f937-d72c-4106-c12f-20bd9faed9f6"],
    ["GPU-8932aaaa-0000-0000-0000-000000000000", "GPU-hip-one"],
]


@pytest.mark.parametrize(
    ("entry", "hit"),
    [
        ("GPU-8932f937", 0),
        ("gpu-8932F937-D72C", 0),  # case-insensitive
        ("GPU-8932", None),  # ambiguous
        ("GPU-hip", 1),  # any of a device's ids
        ("GPU-ffff", None),
        ("", None),
    ],
)
def test_match_prefix(entry: str, hit: int | None) -> None:
    assert match_prefix(entry, UUIDS) == hit


def resolve_small(entry: str) -> int | None:
    return parse_index(entry, 4)


def test_select_keeps_order() -> None:
    assert select(["2", "0"], resolve_small) == Selection((2, 0))


def test_select_stops_at_the_first_invalid_entry() -> None:
    sel = select(["0", "2", "-1", "1"], resolve_small)
    assert sel.items == (0, 2) and sel.stopped_at == "-1"


def test_select_counts_repeats_once() -> None:
    sel = select(["1", "1", "3", "1"], resolve_small)
    assert sel == Selection((1, 3), None, ("1", "1"))


def test_select_nothing() -> None:
    assert select([], resolve_small) == Selection(())
    assert select(["x", "0"], resolve_small) == Selection((), "x")


def exists(pid: int) -> bool:
    return pid < 1000


def test_busy_share() -> None:
    assert busy_share({1: 30.0, 2: 10.0}, {1}, exists) == 0.75
    assert busy_share({1: 30.0, 2: 10.0}, {1, 2}, exists) == 1.0
    assert busy_share({1: 30.0, 2: 10.0}, {3}, exists) == 0.0
    assert busy_share({1: 0.0, 2: 0.0}, {1}, exists) is None  # nobody busy
    assert busy_share({}, {1}, exists) is None
    assert busy_share({5000: 10.0}, {1}, exists) is None  # another PID namespace
    assert busy_share({1: -5.0, 2: 5.0}, {1}, exists) == 0.0  # negatives ignored


def test_context_share() -> None:
    assert context_share({}, {1}, exists) == (None, "")
    assert context_share({1: 10, 2: 30}, {1}, exists) == (0.25, "memory-share")
    assert context_share({1: None}, {1}, exists) == (1.0, "sole-process")
    assert context_share({1: None, 2: 5}, {1}, exists) == (None, "")
    assert context_share({2: 5}, {1}, exists) == (0.0, "other-processes")
    assert context_share({5000: 5}, {1}, exists) == (None, "")
    assert context_share({1: 0, 2: 0}, {1}, exists) == (None, "")
