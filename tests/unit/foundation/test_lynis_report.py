"""The Lynis report reader shared by the container scenario and the VM stage."""
from __future__ import annotations

import lynis_report

DAT = """# Lynis Report
report_version_major=1
hardening_index=85
warning[]=SSH-7412|Root can log in|-|-|
suggestion[]=PKGS-7346|Purge old packages|-|-|
suggestion[]=AUTH-9282|Set expiry|-|-|
suggestion[]=PKGS-7346|Purge old packages (again)|-|-|
"""


def test_parse_reads_index_warnings_and_suggestions():
    found = lynis_report.parse(DAT)
    assert found["index"] == 85
    assert found["warnings"] == ["SSH-7412|Root can log in|-|-|"]
    assert len(found["suggestions"]) == 3
    assert lynis_report.test_ids(found["suggestions"]) == ["AUTH-9282", "PKGS-7346"]


def test_parse_without_an_index_says_none():
    assert lynis_report.parse("warning[]=X|y|\n")["index"] is None
