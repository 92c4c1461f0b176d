"""A study's page as an article: what it asks, a card per claim it measures, its figures, then the raw data folded.

A card (id="C000-01", linked from the ledger and back) holds the source document's statement,
the verdict of this run's measurements, the evidence, the figures the study names for the
claim, and the command that reproduces it. Figures no card shows follow in a gallery. The
study's own tables come next; every cell's aggregates, the runs by seed, the config and the
run's provenance are folded in <details>, with the cells that gave no finite value left out.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Mapping, Sequence

from . import evidence, gallery
from .claims import load_claims
from .markup import NUMERIC, badge, flatten, interval, page, params_text, plain, table, verdict_class
from .results import FINISHED, metric_scales
from .tables import Table, format_cell
from .verdicts import claim_verdict
from .viewer import Viewer, viewer_section


@dataclass
class StudyNotes:
    """What the lab knows about a study beyond its results.json (blocklab.lab.report fills it from the registry)."""

    question: str = ""  # one paragraph: what the study asks
    tables: list[Table] = field(default_factory=list)  # the study's own tables (Study.tables)
    claim_figures: Mapping[str, Sequence[str]] = field(default_factory=dict)  # claim ID -> figure names or globs
    captions: Mapping[str, str] = field(default_factory=dict)  # figure file name -> what it plots
    viewers: Sequence[Viewer] = ()  # how to run the cells' saved models, preferred first (Study.viewers)


def study_page(name: str, path: Path, r: dict, out: Path, notes: StudyNotes, ledger: Mapping[str, dict]) -> str:
    """The page `name` for the run whose results.json is `path`; `ledger` maps claim IDs to ledger entries."""
    srcs = gallery.copy_figures(name, path.parent / "figures", r["figures"], out)
    seeds = len(r["seeds"])

    def figures(names: Sequence[str]) -> str:
        return gallery.grid([gallery.figure(n, srcs[n], gallery.caption(n, seeds, notes.captions), path.parent)
                             for n in names if n in srcs])

    claim_ids = list(dict.fromkeys(m["claim_id"] for m in r["measurements"]))
    of_claim = {cid: gallery.matching(notes.claim_figures.get(cid, ()), r["figures"]) for cid in claim_ids}
    cards = "".join(_card(cid, _parts(name, r, cid, ledger.get(cid)), figures(of_claim[cid])) for cid in claim_ids)
    shown = {f for names in of_claim.values() for f in names}
    rest = [n for n in r["figures"] if n not in shown]
    viewer, scripts = viewer_section(name, notes.viewers, path.parent, [c["name"] for c in r["cells"]], out)
    body = (
        f"<nav><a href='index.html'>← report index</a> · <a href='ledger.html'>claims ledger</a></nav>"
        f"<h1>{escape(r['study'])}</h1><p class=lead>{escape(r['description'])}</p>"
        + (f"<p>{escape(notes.question)}</p>" if notes.question else "")
        + f"<p class=small>{_facts(r)}</p>"
        + (f"<h2>Claims</h2>{cards}" if cards else "<p>This study measures no claim of the source documents.</p>")
        + viewer
        + (f"<h2>{'More figures' if shown else 'Figures'}</h2>{figures(rest)}" if rest else "")
        + ("" if r["figures"] else "<p>This study draws no figures.</p>")
        + "".join(_study_table(t) for t in notes.tables)
        + "<h2>Data</h2>" + _cells(r) + _seeds(r) + _config(r) + _about(path, r)
    )
    return page(f"{r['study']} · blocklab", body, scripts)


def _parts(name: str, r: dict, claim_id: str, entry: dict | None) -> tuple[list[dict], bool]:
    """This run's parts of a claim, and whether the ledger took them from this run (then they carry Holm's result)."""
    chosen = [p for p in (entry or {}).get("parts", []) if p.get("source") == name]
    if chosen:
        return chosen, True
    return [{**m, "quick": r["quick"], "seeds": len(r["seeds"])} for m in r["measurements"]
            if m["claim_id"] == claim_id], False


def _card(claim_id: str, parts_in_ledger: tuple[list[dict], bool], figures: str) -> str:
    parts, in_ledger = parts_in_ledger
    claim = next((c for c in load_claims() if c.id == claim_id), None)
    verdict = claim_verdict(parts)
    elsewhere = "" if in_ledger else "<p class=small>The ledger takes this claim from another run of the study.</p>"
    commands = "".join(f"<div><code>{escape(c)}</code></div>" for c in dict.fromkeys(p["command"] for p in parts))
    statement = (f"<blockquote>{escape(claim.text)} <span class=small>(source document {escape(claim.section)})"
                 "</span></blockquote>" if claim else "")
    return (f"<section class='card {verdict_class(verdict['verdict'])}' id='{claim_id}'>"
            f"<h3>{claim_id} {badge(verdict['verdict'])} <a href='ledger.html#{claim_id}'>in the ledger</a></h3>"
            f"{statement}{evidence.provisional(verdict)}{elsewhere}"
            f"{evidence.evidence_table(parts)}{evidence.notes(parts)}{figures}"
            f"<p class=small>Reproduce:</p>{commands}</section>")


def _facts(r: dict) -> str:
    fidelity = "--quick run" if r["quick"] else "full-fidelity run"
    seconds = r["timing"].get("seconds", 0.0)
    return escape(f"{fidelity} · {len(r['seeds'])} seeds · {len(r['cells'])} cells · {seconds:,.0f} s of compute · "
                  f"commit {r['commit'][:12]}")


def _cells(r: dict) -> str:
    """Every cell's aggregates, units from the metrics' scales; metrics and cells without a finite value left out."""
    scales = metric_scales(r)
    aggs = r["aggregates"]
    cells = [c for c in r["cells"] if any(v.get("mean") is not None for v in aggs.get(c["name"], {}).values())]
    metrics = sorted({k for c in cells for k, v in aggs[c["name"]].items() if v.get("mean") is not None})
    if not metrics:
        return ""
    dropped = len(r["cells"]) - len(cells)

    def value(cell: str, metric: str) -> str:
        scale = scales.get(metric)
        return NUMERIC + interval(aggs[cell].get(metric, {}), scale.unit if scale else "")

    names = [escape(c["name"]) for c in cells]
    params = [escape(params_text(c["params"])) for c in cells]
    if len(metrics) <= len(cells):  # a row per cell
        body = table(["cell", "params", *metrics],
                     [[n, p, *(value(c["name"], m) for m in metrics)] for n, p, c in zip(names, params, cells)])
    else:  # a row per metric: a study with many metrics (per head, per op) stays readable
        body = table(["metric", *(c["name"] for c in cells)],
                     [["params", *params]] + [[escape(m), *(value(c["name"], m) for c in cells)] for m in metrics])
    left_out = f"<p class=small>{dropped} cell(s) with no finite value left out.</p>" if dropped else ""
    return (f"<details><summary>Every cell: mean [95% interval] over seeds ({len(cells)} cells, {len(metrics)} "
            f"metrics)</summary>{left_out}{body}</details>")


def _seeds(r: dict) -> str:
    by_pair = {(run["cell"], run["seed"]): run for run in r["runs"]}
    rows = [[escape(c["name"])] + [_seed_status(by_pair.get((c["name"], s))) for s in r["seeds"]] for c in r["cells"]]
    counts: dict[str, int] = {}
    for run in r["runs"]:
        counts[run["status"]] = counts.get(run["status"], 0) + 1
    tally = ", ".join(f"{n} {s}" for s, n in counts.items()) or "none yet"
    return f"<details><summary>Runs by seed ({tally})</summary>" + table(
        ["cell", *(f"seed {s}" for s in r["seeds"])], rows) + "</details>"


def _seed_status(run: dict | None) -> str:
    if run is None:
        return "<span class=muted>not run yet</span>"
    extra = "" if run["status"] in FINISHED else f"<div class=small>{escape(run.get('message', ''))}</div>"
    return (f"<span class={run['status']}>{run['status']}</span> "
            f"<span class=small>{run.get('seconds', 0):.1f} s</span>{extra}")


def _config(r: dict) -> str:
    rows = [[escape(k), escape(plain(v))] for k, v in flatten(r["config"]).items()]
    return "<details><summary>Config</summary>" + table(["key", "value"], rows) + "</details>"


def _about(path: Path, r: dict) -> str:
    rows = [["command", f"<code>{escape(r['command'])}</code>"], ["folder", escape(str(path.parent))],
            ["fidelity", "quick" if r["quick"] else "full"], ["seeds", escape(plain(r["seeds"]))],
            ["complete", "yes" if r["complete"] else "no: rerun the command to finish"],
            ["commit", escape(r["commit"] + (" (with uncommitted changes)" if r.get("dirty") else ""))],
            ["device", escape(r["device"])],
            ["versions", escape(", ".join(f"{k} {v}" for k, v in r["versions"].items()))],
            ["time", escape(f"{r['timing']['seconds']:.1f} s of runs, last update {r['timing']['updated']}")]]
    return "<details open><summary>This run</summary>" + table([], rows) + "</details>"


def _study_table(t: Table) -> str:
    rows = [[(NUMERIC if isinstance(v, (int, float)) and not isinstance(v, bool) else "") + escape(format_cell(v))
             for v in row] for row in t.rows]
    note = f"<p class=small>{escape(t.note)}</p>" if t.note else ""
    return f"<h2>{escape(t.title)}</h2>" + table(t.headers, rows) + note
