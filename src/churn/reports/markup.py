"""Small HTML builders of the report: images, numbers, tables and cards."""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd


def img(uri: str, alt: str) -> str:
    return f'<img src="{uri}" alt="{html.escape(alt)}">'


def fmt(value: Any, kind: str = "number") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if kind == "percent":
        return f"{100 * float(value):.1f}%"
    if kind == "money":
        return f"{float(value):,.0f}"
    if kind == "int":
        return f"{round(float(value)):,}"
    if kind == "ratio":
        return f"{float(value):.3f}"
    return f"{float(value):,.2f}"


def table(frame: pd.DataFrame, kinds: Mapping[str, str], *, index_name: str | None = None) -> str:
    """An HTML table; ``kinds`` names the format of each column (text columns align left)."""
    head = "".join(
        f'<th class="{"text" if kinds.get(c) == "text" else ""}">'
        f"{html.escape(str(c).replace('_', ' '))}</th>"
        for c in frame.columns
    )
    if index_name is not None:
        head = f'<th class="text">{html.escape(index_name)}</th>' + head
    rows = []
    for index, row in frame.iterrows():
        cells = "".join(
            f'<td class="text">{html.escape(str(row[c]))}</td>'
            if kinds.get(c) == "text"
            else f"<td>{fmt(row[c], kinds.get(c, 'number'))}</td>"
            for c in frame.columns
        )
        if index_name is not None:
            cells = f'<td class="text">{html.escape(str(index))}</td>' + cells
        rows.append(f"<tr>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def cards(items: Sequence[tuple[str, str]]) -> str:
    cards = "".join(
        f'<div class="card"><div class="value">{html.escape(v)}</div>'
        f'<div class="label">{html.escape(k)}</div></div>'
        for k, v in items
    )
    return f'<div class="cards">{cards}</div>'
