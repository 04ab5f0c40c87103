"""Search spaces: the mapping forms, space files, default grids, the round trip, and every
ConfigError naming its parameter in one line."""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path
from typing import Any

import pytest

from wattwise.exceptions import ConfigError
from wattwise.tuning.space import DEFAULT_GRID_POINTS, Param, Space, load_space, parse_space


def _one(spec: Any, name: str = "p") -> Param:
    space = parse_space({name: spec})
    assert space.names == (name,)
    return space.params[0]


def _on_step(p: Param, value: float) -> bool:
    assert p.low is not None and p.step is not None
    k = (value - p.low) / p.step
    return math.isclose(k, round(k), abs_tol=1e-9)


# -- the mapping forms ---------------------------------------------------------------------
def test_a_list_is_a_categorical_parameter_whose_grid_is_every_choice() -> None:
    p = _one([32, 64, 128], "batch_size")
    assert p.kind == "categorical"
    assert p.choices == (32, 64, 128)
    assert p.grid == (32, 64, 128)
    assert p.low is None and p.high is None


def test_choices_spelled_out_with_a_grid_subset() -> None:
    p = _one({"choices": ["adam", "sgd", "lion"], "grid": ["sgd", "adam"]}, "optimizer")
    assert p.kind == "categorical"
    assert p.choices == ("adam", "sgd", "lion")
    assert p.grid == ("sgd", "adam")


def test_mixed_choices_keep_their_types() -> None:
    # 1 and True and 1.0 are different choices (they differ by type), None is allowed
    p = _one([1, True, 1.0, None, "1"])
    assert [type(c) for c in p.choices] == [int, bool, float, type(None), str]


def test_integer_bounds_make_an_int_range() -> None:
    p = _one({"low": 1, "high": 9})
    assert p.kind == "int"
    assert (p.low, p.high, p.step, p.log) == (1, 9, None, False)
    assert isinstance(p.low, int) and isinstance(p.high, int)
    assert p.grid == (1, 5, 9)
    assert p.describe() == "p ∈ [1, 9] int"


def test_a_float_bound_makes_a_float_range() -> None:
    p = _one({"low": 0, "high": 0.5})
    assert p.kind == "float"
    assert isinstance(p.low, float)
    assert p.grid == (0.0, 0.25, 0.5)


def test_a_float_step_makes_a_discretised_float_range() -> None:
    p = _one({"low": 0, "high": 1, "step": 0.25})
    assert p.kind == "float"
    assert p.step == 0.25
    assert p.grid == (0.0, 0.5, 1.0)
    assert p.describe() == "p ∈ [0, 1] step 0.25"


def test_a_log_float_range() -> None:
    p = _one({"low": 1e-4, "high": 1e-1, "log": True}, "lr")
    assert (p.kind, p.log) == ("float", True)
    assert p.describe() == "lr ∈ [0.0001, 0.1] log"
    dist = p.distribution()
    assert type(dist).__name__ == "FloatDistribution"
    assert (dist.low, dist.high, dist.log, dist.step) == (1e-4, 1e-1, True, None)


def test_an_int_step_range_and_its_distribution() -> None:
    p = _one({"low": 8, "high": 64, "step": 8}, "width")
    assert (p.kind, p.step) == ("int", 8)
    dist = p.distribution()
    assert type(dist).__name__ == "IntDistribution"
    assert (dist.low, dist.high, dist.step, dist.log) == (8, 64, 8, False)
    assert p.describe() == "width ∈ [8, 64] int step 8"


@pytest.mark.parametrize(
    ("spec", "kind", "low", "high"),
    [
        ({"type": "float", "low": 1, "high": 5}, "float", 1.0, 5),
        ({"type": "int", "low": 1.0, "high": 5.0}, "int", 1, 5),
        ({"type": "int", "low": 2, "high": 20, "log": True}, "int", 2, 20),
    ],
)
def test_type_says_the_kind_outright(spec: dict[str, Any], kind: str, low: Any, high: Any) -> None:
    p = _one(spec)
    assert p.kind == kind
    assert (p.low, p.high) == (low, high)
    if kind == "int":
        assert all(isinstance(v, int) for v in (p.low, p.high, *p.grid))
    else:
        assert isinstance(p.low, float)


def test_type_categorical_needs_choices() -> None:
    p = _one({"type": "categorical", "choices": ["a", "b"]})
    assert p.kind == "categorical" and p.choices == ("a", "b")
    with pytest.raises(ConfigError, match=r"^space: p: choices must be a non-empty list$"):
        _one({"type": "categorical"})


def test_an_explicit_grid_is_kept_in_its_order_and_coerced_to_the_kind() -> None:
    f = _one({"low": 0.0, "high": 1.0, "grid": [0.5, 0, "1e-1"]})
    assert f.grid == (0.5, 0.0, 0.1)
    assert all(isinstance(v, float) for v in f.grid)
    i = _one({"low": 1, "high": 10, "grid": [10, 2.0]})
    assert i.grid == (10, 2)
    assert all(isinstance(v, int) for v in i.grid)


def test_strings_that_yaml_leaves_unparsed_are_numbers() -> None:
    p = _one({"low": "1e-4", "high": "1e-1", "log": True})
    assert (p.low, p.high) == (1e-4, 1e-1)


def test_order_of_parameters_is_kept_and_grid_size_multiplies() -> None:
    space = parse_space(
        {"b": [1, 2], "a": {"low": 0.0, "high": 1.0}, "c": {"low": 1, "high": 2}, "d": ["x"]}
    )
    assert space.names == ("b", "a", "c", "d")
    assert space.grid() == {"b": [1, 2], "a": [0.0, 0.5, 1.0], "c": [1, 2], "d": ["x"]}
    assert space.grid_size == 2 * 3 * 2 * 1
    assert set(space.distributions()) == {"a", "b", "c", "d"}


def test_a_space_passes_through_parse_space_unchanged() -> None:
    space = parse_space({"x": [1, 2]})
    assert parse_space(space) is space


# -- default grid points -------------------------------------------------------------------
def test_default_grid_of_a_float_range_is_evenly_spaced() -> None:
    p = _one({"low": -1.0, "high": 3.0})
    assert len(p.grid) == DEFAULT_GRID_POINTS == 3
    assert p.grid == (-1.0, 1.0, 3.0)


def test_default_grid_of_a_log_range_is_geometric() -> None:
    p = _one({"low": 1e-4, "high": 1e-1, "log": True})
    assert p.grid[0] == 1e-4 and p.grid[-1] == 1e-1
    assert p.grid[1] == pytest.approx(math.sqrt(1e-4 * 1e-1), rel=1e-5)
    assert p.low is not None and p.high is not None
    assert all(p.low <= v <= p.high for v in p.grid)
    i = _one({"low": 1, "high": 10_000, "log": True})
    assert i.grid == (1, 100, 10_000)


def test_default_grid_of_an_int_step_range_is_on_the_step() -> None:
    p = _one({"low": 8, "high": 64, "step": 8})
    assert p.grid == (8, 40, 64)  # the midpoint 36 moves onto the step
    assert all(_on_step(p, v) for v in p.grid)
    q = _one({"low": 3, "high": 27, "step": 3})
    assert q.grid == (3, 15, 27)


def test_default_grid_of_a_narrow_int_range_has_no_repeats() -> None:
    assert _one({"low": 0, "high": 1}).grid == (0, 1)
    assert _one({"low": 5, "high": 6, "step": 1}).grid == (5, 6)


@pytest.mark.parametrize(
    "spec",
    [
        {"low": 0, "high": 10, "step": 6},
        {"low": 0, "high": 10, "step": 4},
        {"low": 0.0, "high": 1.0, "step": 0.6},
    ],
)
def test_a_range_whose_high_is_off_the_step_is_rejected_or_kept_on_the_step(
    spec: dict[str, Any],
) -> None:
    try:
        p = _one(spec, "w")
    except ConfigError as exc:  # rejecting it is one fix
        assert str(exc).startswith("space: w: ")
        return
    assert all(_on_step(p, v) for v in p.grid), p.grid  # or keeping everything on the step
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        p.distribution()


# -- the round trip ------------------------------------------------------------------------
ROUND_TRIP = {
    "lr": {"low": 1e-4, "high": 0.3, "log": True, "grid": [0.001, 0.01, 0.1]},
    "beta1": {"low": 0.5, "high": 0.99},
    "width": {"low": 4, "high": 32, "step": 4},
    "depth": {"type": "int", "low": 1, "high": 64, "log": True},
    "dropout": {"low": 0.0, "high": 0.5, "step": 0.1},
    "batch_size": [16, 32, 64, 128],
    "optimizer": {"choices": ["adam", "sgd", None, True], "grid": ["sgd"]},
}


def test_to_dict_round_trips_through_parse_space_and_json() -> None:
    space = parse_space(ROUND_TRIP)
    data = space.to_dict()
    assert parse_space(data) == space
    assert parse_space(json.loads(json.dumps(data))) == space
    assert data["width"] == {"type": "int", "low": 4, "high": 32, "step": 4, "grid": [4, 20, 32]}
    assert data["batch_size"] == {"choices": [16, 32, 64, 128], "grid": [16, 32, 64, 128]}
    assert data["lr"]["log"] is True and "step" not in data["lr"]


# -- files ---------------------------------------------------------------------------------
YAML = """\
lr:         {low: 1e-4, high: 3e-1, log: true, grid: [1e-3, 1.0e-2]}
beta1:      {low: 0.5, high: 0.99}
width:      {low: 4, high: 32, step: 4}
batch_size: [16, 32, 64, 128]
optimizer:  {choices: [adam, sgd]}
"""


def _expected_file_space() -> Space:
    return parse_space(
        {
            "lr": {"low": 1e-4, "high": 0.3, "log": True, "grid": [1e-3, 1e-2]},
            "beta1": {"low": 0.5, "high": 0.99},
            "width": {"low": 4, "high": 32, "step": 4},
            "batch_size": [16, 32, 64, 128],
            "optimizer": {"choices": ["adam", "sgd"]},
        }
    )


@pytest.mark.parametrize("suffix", [".yaml", ".yml", ".YAML"])
def test_a_yaml_file_with_yaml11_exponents(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"space{suffix}"
    path.write_text(YAML, encoding="utf-8")
    space = load_space(path)
    assert space == _expected_file_space()
    lr = space.params[0]
    assert isinstance(lr.low, float) and lr.low == 1e-4 and lr.grid == (1e-3, 1e-2)


def test_a_json_file(tmp_path: Path) -> None:
    path = tmp_path / "space.json"
    path.write_text(json.dumps(_expected_file_space().to_dict()), encoding="utf-8")
    assert load_space(str(path)) == _expected_file_space()


def test_a_toml_file(tmp_path: Path) -> None:
    path = tmp_path / "space.toml"
    path.write_text(
        "batch_size = [16, 32, 64, 128]\n"
        "[lr]\nlow = 1e-4\nhigh = 3e-1\nlog = true\ngrid = [1e-3, 1.0e-2]\n"
        "[beta1]\nlow = 0.5\nhigh = 0.99\n"
        "[width]\nlow = 4\nhigh = 32\nstep = 4\n"
        "[optimizer]\nchoices = ['adam', 'sgd']\n",
        encoding="utf-8",
    )
    space = load_space(path)
    assert space.names == ("batch_size", "lr", "beta1", "width", "optimizer")
    assert {p.name: p for p in space.params} == {p.name: p for p in _expected_file_space().params}


# -- errors: one line, naming the parameter --------------------------------------------------
BAD = [
    ({"1x": [1, 2]}, "'1x' is not a parameter name"),
    ({"my-lr": [1, 2]}, "'my-lr' is not a parameter name"),
    ({"lr": {"low": 0.1, "high": 0.1}}, "lr: low (0.1) must be below high (0.1)"),
    ({"lr": {"low": 0.5, "high": 0.1}}, "lr: low (0.5) must be below high (0.1)"),
    ({"lr": {"low": 0.0, "high": 1.0, "log": True}}, "lr: a log range needs low > 0, not 0"),
    ({"lr": {"low": -1.0, "high": 1.0, "log": True}}, "lr: a log range needs low > 0"),
    ({"lr": {"low": 0.1, "high": 1.0, "step": 0.1, "log": True}}, "lr: a range cannot have both"),
    ({"lr": {"low": 0.0, "high": 1.0, "step": 0}}, "lr: step must be > 0"),
    ({"lr": {"low": 0.0, "high": 1.0, "step": -0.5}}, "lr: step must be > 0"),
    ({"lr": {"low": 0.0, "high": 1.0, "log": "yes"}}, "lr: log must be true or false"),
    ({"lr": {"low": 0.0, "high": 1.0, "grid": [0.5, 2.0]}}, "lr: grid value 2 is outside [0, 1]"),
    ({"lr": {"low": 0.1, "high": 1.0, "grid": [0.05]}}, "lr: grid value 0.05 is outside"),
    (
        {"lr": {"low": 0.0, "high": 1.0, "grid": [0.5, "5e-1"]}},
        "lr: grid value 0.5 is listed twice",
    ),
    ({"w": {"low": 1, "high": 9, "grid": [2, 2.0]}}, "w: grid value 2 is listed twice"),
    ({"w": {"low": 1, "high": 9, "grid": [2.5]}}, "w: grid value 2.5 is not an integer"),
    ({"lr": {"low": 0.0, "high": 1.0, "grid": []}}, "lr: grid must be a non-empty list"),
    ({"lr": {"low": 0.0, "high": 1.0, "grid": 0.5}}, "lr: grid must be a non-empty list"),
    ({"lr": {"low": 0.0, "high": 1.0, "grid": ["abc"]}}, "lr: grid value must be a number"),
    ({"bs": [32, 64, 32]}, "bs: a choice is listed twice"),
    ({"bs": []}, "bs: choices must be a non-empty list"),
    ({"bs": [[1, 2]]}, "bs: choices must be numbers, strings, booleans or null"),
    ({"bs": {"choices": [1, 2], "grid": [3]}}, "bs: grid value 3 is not one of the choices"),
    ({"bs": {"choices": [1, 2], "grid": [1.0]}}, "bs: grid value 1.0 is not one of the choices"),
    ({"bs": {"choices": [1, 2], "low": 1}}, "bs: a categorical parameter takes no 'low'"),
    ({"bs": {"choices": [1, 2], "grid": []}}, "bs: grid must be a non-empty list"),
    ({"lr": {"low": 0.0, "hi": 1.0}}, "lr: unknown key 'hi'"),
    ({"lr": {"low": 0.0, "high": 1.0, "scale": "log"}}, "lr: unknown key 'scale'"),
    ({"lr": {"type": "double", "low": 0.0, "high": 1.0}}, "lr: type must be float, int or"),
    ({"lr": {"low": 0.0}}, "lr: a range needs low and high"),
    ({"lr": {"low": "abc", "high": 1.0}}, "lr: low must be a number, not 'abc'"),
    ({"lr": {"low": 0.0, "high": True}}, "lr: high must be a number, not True"),
    ({"lr": {"low": 0.0, "high": float("inf")}}, "lr: high must be a finite number"),
    ({"lr": {"low": 0.0, "high": None}}, "lr: high must be a finite number"),
    ({"w": {"type": "int", "low": 0.5, "high": 4}}, "w: an int range needs integer"),
    ({"w": {"low": 0, "high": 8, "step": 2.5, "type": "int"}}, "w: an int range needs integer"),
    ({"lr": 0.1}, "lr: give a list of choices or a mapping with low/high, not 0.1"),
]


@pytest.mark.parametrize(("space", "message"), BAD)
def test_a_bad_entry_is_one_line_naming_the_parameter(space: Any, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_space(space, where="my.yaml")
    text = str(info.value)
    assert "\n" not in text
    assert text.startswith("my.yaml: ")
    assert message in text


@pytest.mark.parametrize("space", [{}, [], None, "lr", [("lr", [1])]])
def test_a_space_must_be_a_non_empty_mapping(space: Any) -> None:
    with pytest.raises(ConfigError, match="a search space is a non-empty mapping"):
        parse_space(space)


def test_a_categorical_grid_value_listed_twice_is_an_error() -> None:
    with pytest.raises(ConfigError, match=r"^space: bs: grid value 32 is listed twice"):
        parse_space({"bs": {"choices": [32, 64], "grid": [32, 32]}})


def test_a_grid_value_off_the_step_is_an_error() -> None:
    with pytest.raises(ConfigError, match=r"^space: width: grid value 10"):
        parse_space({"width": {"low": 8, "high": 64, "step": 8, "grid": [8, 10]}})


def test_a_missing_file_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_space(tmp_path / "nope.yaml")
    text = str(info.value)
    assert text.startswith("cannot read the space file ")
    assert "nope.yaml" in text and "No such file" in text and "\n" not in text


def test_a_folder_is_not_a_space_file(tmp_path: Path) -> None:
    folder = tmp_path / "space.yaml"
    folder.mkdir()
    with pytest.raises(ConfigError, match="cannot read the space file"):
        load_space(folder)


def test_an_unknown_suffix_is_named(tmp_path: Path) -> None:
    path = tmp_path / "space.ini"
    path.write_text("lr = 1", encoding="utf-8")
    with pytest.raises(
        ConfigError, match=r"must end in \.yaml, \.yml, \.json or \.toml, not '\.ini'"
    ):
        load_space(path)


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("bad.yaml", "lr: {low: 1, high: [\n"),
        ("bad.json", '{"lr": {"low": 1,'),
        ("bad.toml", "lr = [1, 2\n"),
    ],
)
def test_an_unparsable_file_is_one_line(tmp_path: Path, name: str, text: str) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_space(path)
    message = str(info.value)
    assert message.startswith(f"cannot parse the space file {path}: ")
    assert "\n" not in message


def test_a_bad_entry_in_a_file_names_the_file_and_the_parameter(tmp_path: Path) -> None:
    path = tmp_path / "space.yaml"
    path.write_text("lr: {low: 1e-1, high: 1e-4, log: true}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_space(path)
    assert str(info.value) == f"{path}: lr: low (0.1) must be below high (0.0001)"


@pytest.mark.parametrize("text", ["", "- lr\n- wd\n", "42\n"])
def test_a_yaml_file_that_is_not_a_mapping(tmp_path: Path, text: str) -> None:
    path = tmp_path / "space.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=r"space\.yaml: a search space is a non-empty mapping"):
        load_space(path)
