"""`snakemake --report` after a run: one self-contained page with the report() outputs."""

from __future__ import annotations

import json
import re

import pytest

from conftest import run_snakemake


@pytest.mark.workflow
def test_report_page_is_self_contained(tmp_path):
    run_snakemake(tmp_path)
    run_snakemake(tmp_path, "--report", "report.html")
    page = (tmp_path / "report.html").read_text()

    # Opens offline: no script, stylesheet, image or frame is fetched from anywhere.
    external = re.findall(
        r"""<(?:script|link|img|iframe)\b[^>]*(?:src|href)=["']?(?:https?:)?//""", page
    )
    assert not external, external
    assert not re.search(r"""url\(["']?(?:https?:)?//""", page)

    # Every report()-marked output of the run is embedded, with its category and caption.
    results = json.loads(re.search(r"var results = (\{.*?\});\n", page, re.S)[1])
    expected = {
        str(path.relative_to(tmp_path))
        for pattern in (
            "results/provence/reports/**/*.md",
            "results/provence/freq/*/stats.json",
            "results/rag/*/report.md",
            "results/nll/report/*.md",
        )
        for path in tmp_path.glob(pattern)
    }
    assert expected and expected <= set(results), expected - set(results)
    for path in expected:
        assert results[path]["data_uri"].startswith("data:"), path
    dataset_report = next(p for p in expected if "provence/reports" in p)
    assert "| split | rows |" in results[dataset_report]["caption"]  # the table, readable in place
    stats = next(p for p in expected if p.endswith("stats.json"))
    assert "rows_kept" in results[stats]["caption"]
    assert "Context relevance" in page
    assert any("results/rag/" in p for p in expected) and any("results/nll/" in p for p in expected)
