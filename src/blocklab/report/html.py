"""The static report: an index with the claims ledger, and one page per study run.

Built from results.json files alone (and the figures next to them, which are copied in,
so the folder can be moved or published as it is). Plain HTML with inline CSS: no
scripts, nothing fetched from elsewhere, readable with any browser or none.
"""
from __future__ import annotations

import re
import shutil
from html import escape
from pathlib import Path
from typing import Callable

from ..errors import BlocklabError
from ..io import atomic_write_text
from .claims import NOT_MEASURED, ledger
from .results import FINISHED, find_results, load
from .tables import Table, format_cell
from .verdicts import GENERAL_RULE, VERDICTS

CSS = """
body{font-family:system-ui,sans-serif;max-width:72rem;margin:2rem auto;padding:0 1rem;color:#222;line-height:1.45}
h1,h2{font-weight:600} h2{margin-top:2.2rem;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.8rem 0;font-size:.9rem;display:block;overflow-x:auto}
th,td{border:1px solid #ddd;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#f4f4f4} td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
code{background:#f4f4f4;padding:.1rem .3rem;border-radius:3px;font-size:.85rem}
.v{font-weight:600;white-space:nowrap} .small{color:#666;font-size:.8rem}
.confirmed,.done{color:#1a7f37} .refuted,.failed{color:#c62828} .inconclusive,.diverged{color:#b26a00}
.ill-posed{color:#6a3fa0} .mixed{color:#00639a} .provisional{color:#888;font-style:italic} .unmeasured{color:#888}
figure{display:inline-block;margin:0 1rem 1rem 0} figure img{max-width:34rem;border:1px solid #eee}
"""


def build_report(root: str | Path, out: str | Path | None = None,
                 study_tables: Callable[[dict], list[Table]] | None = None) -> Path:
    """Write the site for every results.json at or below `root` into `out` (default root/report).

    `study_tables(results)` gives a study's own tables (Study.tables) for its page; the lab
    passes it (blocklab.lab.report.build_report), as this package knows no study."""
    root = Path(root)
    root = root.parent if root.is_file() else root
    out = Path(out) if out is not None else root / "report"
    paths = [p for p in find_results(root) if out.resolve() not in p.resolve().parents]
    if not paths:
        raise BlocklabError(f"no results.json found at or below {root}; run a study first (blocklab run STUDY --quick)")
    runs, taken = [], set()
    for path in paths:
        page = _page_name(root, path)
        while page in taken:  # "a-b/c" and "a/b-c" flatten alike
            page = page.removesuffix(".html") + "-2.html"
        taken.add(page)
        runs.append((page, path, load(path)))
    for page, path, results in runs:
        tables = study_tables(results) if study_tables is not None else []
        atomic_write_text(out / page, _study_page(page, path, results, out, tables))
    entries = ledger((page, results) for page, _, results in runs)
    return atomic_write_text(out / "index.html", _index(runs, entries))


def _page_name(root: Path, path: Path) -> str:
    rel = path.parent.relative_to(root) if path.parent != root else Path(path.parent.name)
    return "study-" + re.sub(r"[^A-Za-z0-9._-]+", "-", "-".join(rel.parts)) + ".html"


def _fmt(x: float | None) -> str:
    if x is None:
        return "—"
    return f"{x:,.0f}" if 1e4 <= abs(x) < 1e7 else f"{x:.4g}"


def _interval(d: dict, unit: str = "") -> str:
    if d.get("mean") is None:
        return "no finite value"
    ci = "" if d.get("ci_low") is None else f" [{_fmt(d['ci_low'])}, {_fmt(d['ci_high'])}]"
    return f"{_fmt(d['mean'])}{ci} {escape(unit)}".strip() + f" <span class=small>n={d['n']}</span>"


def _table(headers: list[str], rows: list[list[str]]) -> str:
    """A table from already-escaped cell HTML; a cell starting with '\\0' is numeric; no headers, no header row."""
    head = f"<tr>{''.join(f'<th>{escape(h)}</th>' for h in headers)}</tr>" if headers else ""
    body = "".join(
        "<tr>" + "".join(f"<td class=num>{c[1:]}</td>" if c.startswith("\0") else f"<td>{c}</td>" for c in row) + "</tr>"
        for row in rows
    )
    return f"<table>{head}{body}</table>"


def _page(title: str, body: str) -> str:
    return (f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{escape(title)}</title>"
            f"<meta name=viewport content='width=device-width,initial-scale=1'><style>{CSS}</style></head>"
            f"<body>{body}</body></html>\n")


def _verdict(v: str) -> str:
    return f"<span class='v {'unmeasured' if v == NOT_MEASURED else v}'>{escape(v)}</span>"


def _index(runs: list[tuple[str, Path, dict]], entries: list[dict]) -> str:
    study_rows = []
    for page, path, r in runs:
        counts = _status_counts(r)
        study_rows.append([f"<a href='{escape(page)}'>{escape(r['study'])}</a>", escape(r["description"]),
                           escape(str(path.parent)), "quick" if r["quick"] else "full", f"\0{len(r['seeds'])}",
                           ", ".join(f"{n} {s}" for s, n in counts.items()) or "none yet"])
    tally = {v: sum(e["verdict"] == v for e in entries) for v in (*VERDICTS, NOT_MEASURED)}
    ledger_rows = [_ledger_row(e) for e in entries]
    body = (
        "<h1>blocklab report</h1><p>Every claim from the seeds, measured by rerunnable studies. "
        "Each study page holds its config, versions, commit, tables and figures.</p>"
        "<h2>Studies</h2>" + _table(["study", "description", "folder", "fidelity", "seeds", "runs"], study_rows)
        + "<h2>Claims ledger</h2><p>" + " · ".join(f"{_verdict(v)} {n}" for v, n in tally.items()) + "</p>"
        f"<p><b>Verdict rule.</b> {escape(GENERAL_RULE)}</p>"
        + _table(["ID", "claim", "seed's figure", "blocklab: mean [95% CI]", "verdict", "rule", "reproduce"],
                 ledger_rows)
    )
    return _page("blocklab report", body)


def _ledger_row(e: dict) -> list[str]:
    claim = f"{escape(e['text'])}<div class=small>{escape(e['section'])}</div>"
    if not e["parts"]:
        return [f"<b>{e['id']}</b>", claim, "—", "—", _verdict(e["verdict"]), "—", "—"]

    def each(render) -> str:
        return "<br>".join((f"<i>{escape(p['part'])}:</i> " if p["part"] else "") + render(p) for p in e["parts"])

    measured = each(lambda p: _interval(p, p["unit"]) + _detectable(p) + (f"<div class=small>{escape(p['note'])}</div>"
                                                                          if p["note"] else ""))
    verdict = _verdict(e["verdict"])
    if e.get("provisional"):
        verdict += f"<div class=small>would be {escape(e['would_be'])}; {escape(e['provisional'])}</div>"
    verdict += "<br>" + each(lambda p: _verdict(p["verdict"]) + _holm(p))
    also = f"<div class=small>also measured in {e['also_in']} other run(s)</div>" if e["also_in"] else ""
    sources = dict.fromkeys((p["command"], p["source"], p["study"]) for p in e["parts"])
    reproduce = "<br>".join(f"<code>{escape(cmd)}</code><br><a href='{escape(src)}'>{escape(study)}</a>"
                            for cmd, src, study in sources)
    return [f"<b>{e['id']}</b>", claim, each(lambda p: escape(p["seed_value"])), measured, verdict,
            each(lambda p: escape(p["rule"] or "—")), reproduce + also]


def _detectable(part: dict) -> str:
    """For an inconclusive part: the smallest effect its seeds could detect, and the seeds that would settle it."""
    if part["verdict"] != "inconclusive" or part.get("detectable") is None:
        return ""
    more = (f"; about {part['seeds_needed']} seeds would settle it" if part.get("seeds_needed")
            else "; more than 1,000 seeds would be needed to settle it" if part.get("seeds_needed", 0) is None else "")
    return (f"<div class=small>{part['n']} seeds detect a mean {_fmt(part['detectable'])} {escape(part['unit'])} "
            f"from the region's edge (80% power){more}</div>")


def _holm(part: dict) -> str:
    """Whether a part's verdict holds after Holm's correction over the ledger, with its p-values."""
    if part.get("p_holm") is None:
        return ""
    held = f"{escape(part['holm'])} after Holm, " if part.get("holm") else ""
    return f" <span class=small>({held}p={part['p_value']:.2g}, Holm p={part['p_holm']:.2g})</span>"


def _status_counts(r: dict) -> dict[str, int]:
    counts: dict[str, int] = {}
    for run in r["runs"]:
        counts[run["status"]] = counts.get(run["status"], 0) + 1
    return counts


def _study_page(page: str, path: Path, r: dict, out: Path, tables: list[Table]) -> str:
    cells = [c["name"] for c in r["cells"]]
    metrics = sorted({k for c in cells for k in r["aggregates"].get(c, {})})
    cell_params = [escape(", ".join(f"{k}={v}" for k, v in c["params"].items())) for c in r["cells"]]
    values = [["\0" + _interval(r["aggregates"].get(c, {}).get(k, {})) for k in metrics] for c in cells]
    if len(metrics) <= len(cells):  # a row per cell
        agg_table = _table(["cell", "params", *metrics], [[escape(c), p, *v] for c, p, v in zip(cells, cell_params, values)])
    else:  # a row per metric: a study with many metrics (per head, per op) stays readable
        agg_table = _table(["metric", *cells],
                           [["params", *cell_params]] + [[escape(k), *col] for k, col in zip(metrics, zip(*values))])
    by_pair = {(run["cell"], run["seed"]): run for run in r["runs"]}
    seed_rows = [[escape(c)] + [_seed_status(by_pair.get((c, s))) for s in r["seeds"]] for c in cells]
    m_rows = [[m["claim_id"] + (f" ({escape(m['part'])})" if m["part"] else ""), escape(m["seed_value"]),
               _interval(m, m["unit"]), _verdict(m["verdict"]), escape(m["rule"] or m["note"])]
              for m in r["measurements"]]
    about = [["command", f"<code>{escape(r['command'])}</code>"], ["folder", escape(str(path.parent))],
             ["fidelity", "quick" if r["quick"] else "full"], ["seeds", escape(str(r["seeds"]))],
             ["complete", "yes" if r["complete"] else "no: rerun the command to finish"],
             ["commit", escape(r["commit"] + (" (with uncommitted changes)" if r.get("dirty") else ""))],
             ["device", escape(r["device"])], ["versions", escape(", ".join(f"{k} {v}" for k, v in r["versions"].items()))],
             ["time", escape(f"{r['timing']['seconds']:.1f} s of runs, last update {r['timing']['updated']}")]]
    body = (
        f"<p><a href='index.html'>← report index</a></p><h1>{escape(r['study'])}</h1><p>{escape(r['description'])}</p>"
        + _table([], about)
        + "<h2>Config</h2>" + _table(["key", "value"], [[escape(k), escape(repr(v))] for k, v in r["config"].items()])
        + "<h2>Cells: mean [95% CI] over seeds</h2>" + agg_table
        + "<h2>Runs by seed</h2>" + _table(["cell", *(f"seed {s}" for s in r["seeds"])], seed_rows)
        + "".join(_study_table(t) for t in tables)
        + "<h2>Claims measured</h2>" + (_table(["claim", "seed's figure", "measured", "verdict", "rule"], m_rows)
                                          if m_rows else "<p>This study measures no claim.</p>")
        + "<h2>Figures</h2>" + _figures(page, path.parent / "figures", r["figures"], out)
    )
    return _page(f"{r['study']} · blocklab", body)


def _study_table(t: Table) -> str:
    rows = [[("\0" if isinstance(v, (int, float)) and not isinstance(v, bool) else "") + escape(format_cell(v))
             for v in row] for row in t.rows]
    note = f"<p class=small>{escape(t.note)}</p>" if t.note else ""
    return f"<h2>{escape(t.title)}</h2>" + _table(t.headers, rows) + note


def _seed_status(run: dict | None) -> str:
    if run is None:
        return "<span class=unmeasured>not run yet</span>"
    extra = "" if run["status"] in FINISHED else f"<div class=small>{escape(run.get('message', ''))}</div>"
    return f"<span class={run['status']}>{run['status']}</span> <span class=small>{run.get('seconds', 0):.1f}s</span>{extra}"


def _figures(page: str, fig_dir: Path, names: list[str], out: Path) -> str:
    """Copy the figures next to the page and show them; a missing one says how to redraw it."""
    if not names:
        return "<p>This study draws no figures.</p>"
    parts, sub = [], Path("figures") / page.removesuffix(".html")
    for name in names:
        if not (fig_dir / name).is_file():
            parts.append(f"<p class=failed>{escape(name)} is missing: run <code>blocklab plot {escape(str(fig_dir.parent))}</code></p>")
            continue
        (out / sub).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(fig_dir / name, out / sub / name)
        src = escape((sub / name).as_posix())
        parts.append(f"<figure><img src='{src}' alt='{escape(name)}'><figcaption>{escape(name)}</figcaption></figure>")
    return "".join(parts)
