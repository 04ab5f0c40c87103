"""Run reports: the versioned JSON report and its published schema.

``build_report(record)`` gives the report of a run as plain JSON (the shape that
``schema()`` describes, docs/report-schema.md); ``validate_report(report)`` checks one
(needs ``jsonschema``: ``pip install 'wattwise[report]'``).
"""

from __future__ import annotations

from wattwise.report._schema import schema, validate_report
from wattwise.report.json import REPORT_SCHEMA_ID, REPORT_SCHEMA_VERSION, build_report

__all__ = [
    "REPORT_SCHEMA_ID",
    "REPORT_SCHEMA_VERSION",
    "build_report",
    "schema",
    "validate_report",
]
