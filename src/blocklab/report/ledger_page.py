"""ledger.html: every claim of the source documents, one row each, its ID an anchor (ledger.html#C000-01).

A measured claim's row holds its verdict, a one-line summary and, folded, the evidence; its ID
links to the claim's card on the study page that measured it. A claim no run has measured is one
line with the command that would measure it. Two menus filter the rows by verdict and by source
document (assets/ledger.js: plain JavaScript, nothing fetched, works from file://).
"""
from __future__ import annotations

from html import escape
from typing import Mapping, Sequence

from . import evidence
from .claims import NOT_MEASURED
from .markup import badge, page, verdict_class
from .verdicts import GENERAL_RULE, VERDICTS


def document(section: str) -> str:
    """The source document a claims.md section stands for: its leading number ("000 — building blocks" -> "000")."""
    return section.split()[0] if section else "?"


def tally(entries: list[dict]) -> str:
    """How many claims reached each verdict (and, if some are provisional, would reach), as badges that link to
    the filtered ledger (HTML)."""
    def counts(key: str) -> str:
        n = {v: sum(e[key] == v for e in entries) for v in (*VERDICTS, NOT_MEASURED)}
        return " ".join(f"<a class=count href='ledger.html#verdict={escape(v)}'>{badge(v)} {k}</a>"
                        for v, k in n.items() if k)

    provisional = any(e["provisional"] for e in entries)
    return counts("verdict") + (f"<br><span class=small>provisional ones would be:</span> {counts('would_be')}"
                                if provisional else "")


def ledger_page(entries: list[dict], claim_studies: Mapping[str, Sequence[str]]) -> str:
    sections = dict.fromkeys(e["section"] for e in entries)
    present = {v for e in entries for v in (e["verdict"], e["would_be"])}
    verdicts = [v for v in (*VERDICTS, NOT_MEASURED) if v in present]
    verdict_menu = "".join(f"<option value='{escape(v)}'>{escape(v)}</option>" for v in verdicts)
    doc_menu = "".join(f"<option value='{escape(document(s))}'>{escape(s)}</option>" for s in sections)
    rows = "".join(_row(e, claim_studies.get(e["id"], ())) for e in entries)
    body = (
        "<nav><a href='index.html'>← report index</a></nav><h1>Claims ledger</h1>"
        "<p>Every claim of the five source documents with blocklab's measured verdict. Click an ID for the claim's "
        "card on its study page: the statement, the evidence, the figure and the command.</p>"
        f"<p class=tally>{tally(entries)}</p>"
        "<form class=filters><label>verdict <select id=verdict><option value=''>all</option>"
        f"{verdict_menu}</select></label> <label>source document <select id=document><option value=''>all</option>"
        f"{doc_menu}</select></label> <span id=shown class=small></span></form>"
        "<table class=ledger><thead><tr><th>ID</th><th>claim</th><th>verdict</th><th>blocklab</th></tr></thead>"
        f"<tbody>{rows}</tbody></table>"
        f"<details><summary>How verdicts are reached</summary><p>{escape(GENERAL_RULE)}</p></details>"
    )
    return page("claims ledger · blocklab", body, scripts=["ledger.js"])


def _row(e: dict, studies: Sequence[str]) -> str:
    attrs = (f"id='{e['id']}' data-verdict='{escape(e['verdict'])}' data-would-be='{escape(e['would_be'])}' "
             f"data-document='{escape(document(e['section']))}'")
    if not e["parts"]:
        return (f"<tr {attrs} class=unmeasured><td><b>{e['id']}</b></td><td colspan=3>{escape(e['text'])} "
                f"<span class=small>· {badge(e['verdict'])} · {evidence.measure_command(studies)}</span></td></tr>")
    card = f"{escape(e['parts'][0]['source'])}#{e['id']}"
    also = f"<div class=small>also measured in {e['also_in']} other run(s)</div>" if e["also_in"] else ""
    commands = "".join(f"<div><code>{escape(c)}</code></div>" for c in dict.fromkeys(p["command"] for p in e["parts"]))
    folded = (f"<details><summary>evidence</summary>{evidence.evidence_table(e['parts'])}{evidence.notes(e['parts'])}"
              f"{commands}</details>")
    return (f"<tr {attrs}><td><a href='{card}'><b>{e['id']}</b></a></td>"
            f"<td>{escape(e['text'])}</td>"
            f"<td class={verdict_class(e['verdict'])}>{badge(e['verdict'])}{evidence.provisional(e)}</td>"
            f"<td>{evidence.summary(e['parts'])}{also}{folded}</td></tr>")
