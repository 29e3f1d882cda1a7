"""``xling report --format html``: one self-contained page (inline CSS, images as data: URIs, no scripts).

The page opens with the Markdown table's content (languages x columns, mean ± std over seeds), then the
averages and the paired gains against a baseline, the heat map, the layer plot where the columns form a
fusion-layer sweep, and the provenance. Every string read from results files is escaped; a Content
Security Policy forbids any fetch but data: images, so the page cannot reach the network even if edited.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence
from datetime import datetime, timezone

from xling import __version__
from xling.errors import XlingError
from xling.reporting.tables import (AVERAGE_ROWS, Group, check_metric, format_cell, group_runs, runs_by_task,
                                    table_rows)
from xling.reporting import figures
from xling.reporting.gains import Comparison, Gain, compare, table_languages
from xling.reporting.provenance import Table, provenance
from xling.reporting.results import Results

CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"

CSS = """
:root { color-scheme: light; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
       font-size: 14px; line-height: 1.4; color: #1d1d1f; margin: 0 auto; padding: 0 1.5rem 3rem;
       max-width: 1500px; }
h1 { font-size: 1.5rem; margin: 1.2rem 0 0.2rem; }
h2 { font-size: 1.25rem; margin: 2rem 0 0.4rem; border-bottom: 2px solid #d0d7de; padding-bottom: 0.2rem; }
h3 { font-size: 1.05rem; margin: 1.4rem 0 0.4rem; }
p.meta, p.note, ul.notes { color: #57606a; margin: 0.3rem 0; }
ul.notes { padding-left: 1.2rem; }
nav a { margin-right: 1rem; }
table { border-collapse: collapse; margin: 0.4rem 0 0.6rem; font-variant-numeric: tabular-nums; }
th, td { padding: 0.22rem 0.55rem; border-bottom: 1px solid #e5e7eb; text-align: right; vertical-align: top; }
th { background: #f6f8fa; font-weight: 600; white-space: normal; overflow-wrap: anywhere; max-width: 9.5rem;
     text-align: center; vertical-align: bottom; }
thead th { position: sticky; top: 0; z-index: 1; box-shadow: inset 0 -2px 0 #d0d7de; }
td { white-space: nowrap; }
td:first-child, th:first-child { text-align: left; }
tbody tr:nth-child(even) td { background: #fafbfc; }
tr.average td { font-weight: 600; background: #eef2f7; }
tr.first-average td { border-top: 2px solid #8c959f; }
td.text { white-space: normal; text-align: left; overflow-wrap: anywhere; max-width: 36rem; }
td.baseline { color: #57606a; }
.ci { display: block; font-size: 0.8em; color: #57606a; font-weight: normal; }
.up { color: #1a7f37; font-weight: 600; }
.down { color: #cf222e; font-weight: 600; }
img { max-width: 100%; height: auto; display: block; margin: 0.4rem 0; }
details { margin: 0.4rem 0; }
summary { cursor: pointer; font-weight: 600; }
footer { margin-top: 2.5rem; color: #57606a; font-size: 0.9em; }
"""


def esc(value: object) -> str:
    """Text for HTML, quotes included (attributes are built from the same helper)."""
    return html.escape(str(value), quote=True)


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], *, classes: Sequence[str] | None = None,
           raw: bool = False, text_columns: Sequence[int] = (), table_class: str = "") -> str:
    """A table; cells are escaped unless ``raw`` (cells already built from escaped parts)."""
    cell = (lambda v: v) if raw else esc
    head = "".join(f"<th scope=\"col\">{esc(h)}</th>" for h in header)
    body = []
    for i, row in enumerate(rows):
        css = f' class="{classes[i]}"' if classes and classes[i] else ""
        cells = "".join(f"<td class=\"text\">{cell(v)}</td>" if j in text_columns else f"<td>{cell(v)}</td>"
                        for j, v in enumerate(row))
        body.append(f"<tr{css}>{cells}</tr>")
    attr = f' class="{table_class}"' if table_class else ""
    return f"<table{attr}><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _row_classes(rows: Sequence[Sequence[str]]) -> list[str]:
    classes, first = [], True
    for row in rows:
        if row[0] in AVERAGE_ROWS:
            classes.append("average first-average" if first else "average")
            first = False
        else:
            classes.append("")
    return classes


def gain_cell(gain: Gain, digits: int) -> str:
    """Escaped-safe HTML: the mean gain ± std, coloured where the 95 % CI excludes zero, the CI below."""
    if gain.mean is None:
        return "–"
    text = f"{gain.mean:+.{digits}f}" + (f" ± {gain.std:.{digits}f}" if gain.std is not None else "")
    css = ("up" if gain.mean > 0 else "down") if gain.significant else ""
    out = f'<span class="{css}">{esc(text)}</span>' if css else esc(text)
    if gain.ci is not None:
        where = "t" if gain.method == "t" else "bootstrap"
        out += f'<span class="ci">[{gain.ci[0]:.{digits}f}, {gain.ci[1]:.{digits}f}] {where}</span>'
    return out


def _main_table(task: str, metric: str, groups: Sequence[Group], digits: int) -> str:
    header, rows, footnotes = table_rows(groups, digits)
    title = f"{esc(task)} <small>({esc(metric)}; mean ± std over seeds where n &gt; 1)</small>"
    parts = [f'<h2 id="{esc(_anchor(task))}">{title}</h2>',
             _table(header, rows, classes=_row_classes(rows), table_class="scores")]
    for note in footnotes:  # a long note (one fallback per language) folds, its first clause as summary
        head, _, rest = note.partition(": ")
        parts.append(f'<details class="note"><summary>{esc(head)} (per language under Provenance)</summary>'
                     f'<p class="note">{esc(rest)}</p></details>' if len(note) > 200 and rest else
                     f'<p class="note">{esc(note)}</p>')
    return "\n".join(parts)


def _averages_table(groups: Sequence[Group], comparisons: dict[str, Comparison] | None, digits: int) -> str:
    selection = _selection_header(groups)
    header = ["column", "seeds"] + ([selection] if selection else []) + ["avg", "avg zero-shot"]
    if comparisons is not None:
        header += ["gain avg", "gain avg zero-shot"]
    rows = []
    for group in groups:
        row = [esc(group.label), esc(", ".join(str(s) for s in sorted(group.seeds)))]
        if selection:
            row.append(esc(format_cell(_selection_scores(group), digits)))
        row += [esc(format_cell(group.values("avg"), digits)), esc(format_cell(group.values("avg zero-shot"), digits))]
        if comparisons is not None:
            comparison = comparisons.get(group.label)
            if comparison is None:
                row += ['<span class="baseline">baseline</span>'] * 2
            elif not comparison.paired:
                row += ["unpaired"] * 2
            else:
                row += [gain_cell(comparison.gains[r], digits) for r in AVERAGE_ROWS]
        rows.append(row)
    return _table(header, rows, raw=True, table_class="averages")


def _selection_scores(group: Group) -> list[float]:
    """The last stage's selection score per run (what picked the checkpoint)."""
    scores = [(r.stages[-1].get("selection") or {}).get("best_score") for r in group.runs if r.stages]
    return [s for s in scores if isinstance(s, (int, float))]


def _selection_header(groups: Sequence[Group]) -> str | None:
    """``selection (en dev)``, from the runs' last stages; None when no run has a selection score."""
    if not any(_selection_scores(g) for g in groups):
        return None
    where = {f"{r.stages[-1].get('language', '?')} {(r.stages[-1].get('selection') or {}).get('split', '?')}"
             for g in groups for r in g.runs if r.stages}
    return f"selection ({', '.join(sorted(where))})"


def _gains_section(groups: Sequence[Group], comparisons: Sequence[Comparison], digits: int) -> str:
    rows = table_languages(groups) + list(AVERAGE_ROWS)
    header = ["language"] + [c.label for c in comparisons]
    body = [[esc(r)] + [gain_cell(c.gains[r], digits) if c.paired else "unpaired" for c in comparisons]
            for r in rows]
    notes = "".join(f"<li>{esc(c.describe())}</li>" for c in comparisons)
    return ("<h3>Gains per language</h3>"
            '<p class="note">Column minus baseline, paired by seed: mean ± std over the paired seeds; below, the '
            "95 % confidence interval (t: t-interval over paired seeds; bootstrap: over languages). Coloured "
            "where the interval excludes zero.</p>"
            + _table(header, body, classes=_row_classes(body), raw=True, table_class="gains")
            + f'<ul class="notes">{notes}</ul>')


def _figure(png: bytes, alt: str, caption: str) -> str:
    return (f'<figure><img src="{data_uri(png)}" alt="{esc(alt)}">'
            f'<figcaption class="note">{esc(caption)}</figcaption></figure>')


def _provenance(tables: Sequence[Table]) -> str:
    parts = ["<h3>Provenance</h3>"]
    for table in tables:
        text_columns = [j for j, h in enumerate(table.header) if j > 0 or len(table.header) == 2]
        body = _table(table.header, table.rows, text_columns=text_columns) if table.rows else ""
        notes = "".join(f'<p class="note">{esc(n)}</p>' for n in table.notes)
        if table.collapsed:
            parts.append(f"<details><summary>{esc(table.caption)} ({len(table.rows)} rows)</summary>{body}{notes}"
                         "</details>")
        else:
            parts.append(f"<h4>{esc(table.caption)}</h4>{body}{notes}")
    return "\n".join(parts)


def _anchor(task: str) -> str:
    return "task-" + "".join(c if c.isalnum() else "-" for c in task)


def task_section(task: str, runs: Sequence[Results], baseline: str | None, digits: int,
                 metric: str | None) -> str:
    """Everything about one task, in reading order."""
    groups = group_runs(runs, metric)
    shown = metric or runs[0].primary_metric
    comparisons = compare(groups, baseline) if baseline else None
    by_label = {c.label: c for c in comparisons} if comparisons is not None else None
    parts = [_main_table(task, shown, groups, digits),
             f'<h3 id="{esc(_anchor(task))}-averages">Averages'
             + (f" and gains over {esc(baseline)}" if baseline else "") + "</h3>",
             _averages_table(groups, by_label, digits)]
    if comparisons:
        parts.append(_gains_section(groups, comparisons, digits))
    rows = table_languages(groups) + list(AVERAGE_ROWS)
    if comparisons:
        parts.append(_figure(figures.heatmap_png(groups, rows, shown, comparisons, digits),
                             f"heat map of the gains over {baseline}",
                             f"Heat map: gain over {baseline} per language and column (mean over paired seeds)."))
    else:
        parts.append(_figure(figures.heatmap_png(groups, rows, shown, None, digits), "heat map of the scores",
                             "Heat map: mean score per language and column."))
    sweeps = figures.find_sweeps(groups)
    if sweeps:
        caption = ("Layer plot: " + ", ".join(f"{s.name} at layers {', '.join(str(p[0]) for p in s.points)}"
                                              for s in sweeps)
                   + "; dashed: last layer (band: ± std over seeds).")
        parts.append(_figure(figures.layer_plot_png(sweeps, shown, task), "score against the fusion layer", caption))
    parts.append(_provenance(provenance(groups)))
    return "\n".join(parts)


def render_html(runs: Sequence[Results], baseline: str | None = None, digits: int = 1,
                metric: str | None = None, title: str = "xling report") -> str:
    """The whole page as a string."""
    if not runs:
        raise XlingError("no runs to report")
    check_metric(runs, metric)
    by_task = runs_by_task(runs)
    sections = [task_section(task, task_runs, baseline, digits, metric) for task, task_runs in by_task.items()]
    nav = "".join(f'<a href="#{esc(_anchor(t))}">{esc(t)}</a>' for t in by_task) if len(by_task) > 1 else ""
    created = datetime.now(timezone.utc).isoformat(timespec="seconds")
    seeds = sorted({r.seed for r in runs})
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{esc(title)}</title>
<style>{CSS}</style>
</head>
<body>
<h1>{esc(title)}</h1>
<p class="meta">{len(runs)} runs, {len(by_task)} task{'s' if len(by_task) > 1 else ''} ({esc(', '.join(by_task))}),
seeds {esc(', '.join(map(str, seeds)))}. Columns are experiments; runs differing only by seed form one column.</p>
{f'<nav>{nav}</nav>' if nav else ''}
{''.join(sections)}
<footer>Written by xling {esc(__version__)} on {esc(created)} from results.json files only.</footer>
</body>
</html>
"""

