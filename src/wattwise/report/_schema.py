"""Load the published run-report schema and validate reports against it."""

from __future__ import annotations

import copy
import functools
import importlib
import json
from collections.abc import Mapping
from importlib import resources
from typing import Any

from wattwise.exceptions import ReportError

__all__ = ["SCHEMA_FILE", "schema", "validate_report"]

SCHEMA_FILE = "run-report-1.json"
"""The schema of every 1.x report, shipped as ``wattwise/report/schema/run-report-1.json``."""

_MAX_MESSAGE = 200


@functools.lru_cache(maxsize=1)
def _load() -> dict[str, Any]:
    text = (resources.files("wattwise.report") / "schema" / SCHEMA_FILE).read_text("utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def schema() -> dict[str, Any]:
    """The run-report JSON schema (draft 2020-12), as a fresh dict."""
    return copy.deepcopy(_load())


@functools.lru_cache(maxsize=1)
def _validator() -> Any:
    try:
        jsonschema = importlib.import_module("jsonschema")
    except ImportError:
        raise ReportError(
            "validating a run report needs the jsonschema package: pip install 'wattwise[report]'"
        ) from None
    return jsonschema.Draft202012Validator(_load())


def validate_report(report: Mapping[str, Any]) -> None:
    """Check ``report`` against the schema; raise :class:`ReportError` when it does not match.

    The message is one line naming the failing path (``$.run.status``) and what is wrong.
    Also raises ``ReportError`` when ``jsonschema`` is not installed.
    """
    validator = _validator()
    best_match = importlib.import_module("jsonschema.exceptions").best_match
    error = best_match(validator.iter_errors(report))
    if error is None:
        return
    message = " ".join(str(error.message).split())
    if len(message) > _MAX_MESSAGE:
        message = message[: _MAX_MESSAGE - 1] + "…"
    raise ReportError(f"run report invalid at {error.json_path}: {message}")
