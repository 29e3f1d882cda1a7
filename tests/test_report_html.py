"""The HTML report: the Markdown table's content first, self-contained, escaped, figures where they apply."""

from __future__ import annotations

import base64
import json
from html.parser import HTMLParser

import pytest

from tests.conftest import run_cli
from tests.report_runs import make_run, sweep_runs
from xling.reporting.tables import group_runs, table_rows
from xling.reporting.figures import find_sweeps
from xling.reporting.html import CSP, render_html


class Page(HTMLParser):
    """Tags with their attributes, the text of every table's cells, and all visible text."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.tables: list[dict] = []  # {"class": ..., "rows": [[cell text, ...], ...]}
        self.text: list[str] = []
        self._cell: list[str] | None = None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append((tag, attrs))
        if tag == "table":
            self.tables.append({"class": attrs.get("class", ""), "rows": []})
        elif tag == "tr":
            self.tables[-1]["rows"].append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1]["rows"][-1].append(" ".join("".join(self._cell).split()))
            self._cell = None

    def handle_data(self, data):
        self.text.append(data)
        if self._cell is not None:
            self._cell.append(data)

    def table(self, css: str) -> list[list[str]]:
        return next(t["rows"] for t in self.tables if t["class"] == css)


@pytest.fixture(scope="module")
def sweep_page() -> str:
    return render_html(sweep_runs(), baseline="last")


def test_the_page_opens_with_the_markdown_table(sweep_page):
    page = Page(sweep_page)
    header, rows, _ = table_rows(group_runs(sweep_runs()))
    first = page.tables[0]
    assert first["class"] == "scores" and first["rows"] == [header] + rows  # every cell, in order
    assert [t["class"] for t in page.tables][:3] == ["scores", "averages", "gains"]


def test_averages_and_gains_show_the_baseline_and_unpaired_columns(sweep_page):
    averages = Page(sweep_page).table("averages")
    assert averages[0] == ["column", "seeds", "selection (en dev)", "avg", "avg zero-shot", "gain avg",
                           "gain avg zero-shot"]
    rows = {row[0]: row for row in averages[1:]}
    assert rows["last"][-2:] == ["baseline", "baseline"] and rows["scalar_mix"][-2:] == ["unpaired", "unpaired"]
    assert rows["aif@6"][-1].endswith(" t") and "[" in rows["aif@6"][-1]  # mean ± std, then the CI and its kind
    assert "scalar_mix: unpaired, no seed in common with last" in sweep_page


def test_the_page_is_self_contained(sweep_page):
    page = Page(sweep_page)
    assert ("meta", {"http-equiv": "Content-Security-Policy", "content": CSP}) in page.tags
    assert not [tag for tag, _ in page.tags if tag in ("script", "link", "iframe", "object", "embed", "base")]
    assert "http://" not in sweep_page and "https://" not in sweep_page and "url(" not in sweep_page
    images = [attrs for tag, attrs in page.tags if tag == "img"]
    assert len(images) == 2  # the heat map and the layer plot
    for attrs in images:
        assert attrs["src"].startswith("data:image/png;base64,") and attrs["alt"]
        assert base64.b64decode(attrs["src"].split(",", 1)[1]).startswith(b"\x89PNG\r\n\x1a\n")
    assert all(not attrs.get("href", "#").partition("#")[0] for _, attrs in page.tags)  # in-page links only


def test_text_from_results_files_is_escaped():
    evil = "<script>alert(1)</script>"
    runs = [make_run(s, {"en": 80.0, '<img src=x onerror="alert(2)">': 50.0 + s}, run_dir=f'runs/"{evil}',
                     warnings=[f"label {evil} unseen"]) for s in (1, 2)]
    runs += [make_run(s, {"en": 81.0, '<img src=x onerror="alert(2)">': 51.0 + s}, "aif", 2) for s in (1, 2)]
    for run in runs:
        run.model["name_or_path"] = f"models/{evil}"
    text = render_html(runs, baseline="last")
    page = Page(text)
    assert not [tag for tag, _ in page.tags if tag == "script"]
    assert all(attrs["src"].startswith("data:") for tag, attrs in page.tags if tag == "img")
    assert not any("onerror" in attrs for _, attrs in page.tags)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text and f"label {evil} unseen" in "".join(page.text)


def test_layer_plot_only_where_the_columns_form_a_sweep():
    sweeps = find_sweeps(group_runs(sweep_runs()))
    assert [(s.name, [layer for layer, _ in s.points], [g.label for g in s.references]) for s in sweeps] == [
        ("aif", [2, 4, 6], ["last"])]
    negative = [make_run(1, {"de": 1.0}, "aif", -2), make_run(1, {"de": 2.0}, "aif", 2)]  # 6 layers: -2 is 5
    assert [layer for layer, _ in find_sweeps(group_runs(negative))[0].points] == [2, 5]
    one_layer = [r for r in sweep_runs() if r.config["fusion_layer"] in (None, 4)]
    assert find_sweeps(group_runs(one_layer)) == []
    page = Page(render_html(one_layer))
    assert [attrs["alt"] for tag, attrs in page.tags if tag == "img"] == ["heat map of the scores"]


def test_provenance_lists_model_data_selection_and_code(sweep_page):
    page = Page(sweep_page)
    evaluation = page.table("")  # provenance tables carry no class; the first is the model
    assert ["model", "models/tiny-bert"] in evaluation
    text = " ".join(" ".join(page.text).split())
    assert "best step by span_f1 on en dev (30 examples) among 2 evaluation points" in text
    assert "s1: 30, s2: 15, s3: 30" in text  # the step each seed's selection chose
    assert "data/panx/test-zh.tsv" in text and "0123456789abcdef0123456789abcdef01234567" in text
    languages = next(t["rows"] for t in page.tables if t["rows"][0][:3] == ["language", "split", "n scored"])
    assert ["de", "test", "40", "50", "data/panx/test-de.tsv", ""] in languages
    assert "transformers" in text and "5.24.0" in text and "no run recorded a warning" in text


@pytest.mark.slow
def test_html_report_of_real_runs_from_the_command_line(tiny_bert, sample_dir, tmp_path):
    for fusion in (["--fusion", "last"], ["--fusion", "aif", "--fusion-layer", "1"]):
        result = run_cli("train", "--task", "panx", "--model", tiny_bert, "--data-dir", sample_dir["panx"],
                         "--output-dir", tmp_path / "runs" / fusion[1], "--languages", "en,de,fr", "--max-steps", "4",
                         "--eval-every", "2", "--batch-size", "8", "--seed", "1", "--quiet", "--no-save-model",
                         *fusion)
        assert result.returncode == 0, result.stderr
    out = tmp_path / "report.html"
    result = run_cli("report", tmp_path / "runs", "--format", "html", "--baseline", "last", "--output", out)
    assert result.returncode == 0, result.stderr
    page = Page(out.read_text(encoding="utf-8"))
    scores = page.table("scores")
    data = json.loads((tmp_path / "runs" / "aif" / "results.json").read_text())
    assert scores[0] == ["language", "aif@1", "last"] or scores[0] == ["language", "last", "aif@1"]
    column = scores[0].index("aif@1")
    assert next(r for r in scores if r[0] == "de")[column] == f"{data['languages']['de']['primary']:.1f}"
    text = " ".join(page.text)
    assert str(sample_dir["panx"] / "test-de.tsv") in text and "1 paired seed (1)" in text
    assert "fewer than 3 paired seeds" in text  # one seed: the averages' interval is a bootstrap over languages
