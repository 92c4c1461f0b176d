"""The report's HTML vocabulary: the page frame, tables, verdict badges and numbers by unit.

Every page module (index_page, ledger_page, study_page, gallery) writes through these, so the
site looks and reads alike everywhere. Text is escaped here or by the caller; a function that
returns HTML says so by its name or docstring.
"""
from __future__ import annotations

import math
from html import escape
from typing import Any, Mapping, Sequence

from .claims import NOT_MEASURED

NUMERIC = "\0"  # a table cell starting with this is right-aligned as a number


def page(title: str, body: str, scripts: Sequence[str] = ()) -> str:
    """A whole page: the shared stylesheet (assets/site.css, written beside the pages) and the scripts it runs."""
    js = "".join(f"<script src='{escape(s)}'></script>" for s in scripts)
    return (f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{escape(title)}</title>"
            "<meta name=viewport content='width=device-width,initial-scale=1'>"
            f"<link rel=stylesheet href='site.css'></head><body>{body}{js}</body></html>\n")


def table(headers: list[str], rows: list[list[str]], cls: str = "") -> str:
    """A table from already-escaped cell HTML (a cell starting with NUMERIC is a number); no headers, no header row."""
    head = f"<thead><tr>{''.join(f'<th>{escape(h)}</th>' for h in headers)}</tr></thead>" if headers else ""
    body = "".join(
        "<tr>" + "".join(f"<td class=num>{c[1:]}</td>" if c.startswith(NUMERIC) else f"<td>{c}</td>" for c in row)
        + "</tr>" for row in rows)
    return f"<div class=scroll><table{f' class={cls}' if cls else ''}>{head}<tbody>{body}</tbody></table></div>"


def badge(verdict: str) -> str:
    """A verdict as a coloured label (HTML)."""
    return f"<span class='badge {verdict_class(verdict)}'>{escape(verdict)}</span>"


def verdict_class(verdict: str) -> str:
    return "unmeasured" if verdict == NOT_MEASURED else verdict


def number(x: float | None, unit: str = "") -> str:
    """One value as text, by its unit: "99.85%", "18,906,112 parameters", "12.3 s", "0.0124 loss"."""
    if x is None or not math.isfinite(x):
        return "—"
    if abs(x) >= 1e4 and abs(x) < 1e15 or (float(x).is_integer() and abs(x) >= 1000):
        text = f"{x:,.0f}"
    elif x != 0 and abs(x) < 1e-3:
        text = f"{x:.3g}"
    else:
        text = f"{x:.4g}"
    if unit == "%":
        return text + "%"
    if unit in ("s", "seconds"):
        return text + " s"
    return f"{text} {unit}" if unit else text


def interval(d: Mapping[str, Any], unit: str = "") -> str:
    """A mean over seeds and its 95% interval (HTML): "20.1% [18.59, 21.61] n=3", or the value alone when
    every seed gave the same (a parameter count has no interval), or "no finite value"."""
    mean, low, high, n = d.get("mean"), d.get("ci_low"), d.get("ci_high"), d.get("n", 0)
    if mean is None:
        return "<span class=muted>no finite value</span>"
    seeds = f" <span class=small>n={n}</span>"
    if low is None or low == high:
        same = " <span class=small>(all seeds equal)</span>" if n > 1 else seeds
        return escape(interval_text(d, unit)) + same
    return escape(interval_text(d, unit)) + seeds


def interval_text(d: Mapping[str, Any], unit: str = "") -> str:
    """A mean over seeds and its 95% interval as plain text: "20.1% [18.59, 21.61]", the value alone when it has
    no interval (every seed equal), "no finite value" when no seed gave one."""
    mean, low, high = d.get("mean"), d.get("ci_low"), d.get("ci_high")
    if mean is None:
        return "no finite value"
    if low is None or low == high:
        return number(mean, unit)
    return f"{number(mean, unit)} [{number(low)}, {number(high)}]"


def plain(value: Any) -> str:
    """A config or parameter value as plain text: strings without quotes, lists comma-separated."""
    if isinstance(value, str):
        return value
    if isinstance(value, (list, tuple)):
        return ", ".join(map(plain, value))
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return f"{value:.1f}"
    return str(value)


def flatten(params: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested dicts as dotted keys: {"train": {"lr": 3e-3}} -> {"train.lr": 0.003}; empty dicts vanish."""
    out: dict[str, Any] = {}
    for key, value in params.items():
        if isinstance(value, Mapping):
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[prefix + str(key)] = value
    return out


def params_text(params: Mapping[str, Any]) -> str:
    """A cell's parameters as "depth=10, train.schedule=cosine" (plain text)."""
    return ", ".join(f"{k}={plain(v)}" for k, v in flatten(params).items()) or "—"
