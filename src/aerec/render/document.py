"""A report as a list of blocks, rendered to one self-contained HTML page or to Markdown.

HTML embeds every image as a base64 PNG data URI and loads nothing from anywhere else;
Markdown links PNG files written beside it.
"""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from aerec.io import atomic_write, write_text


@dataclass(frozen=True)
class Heading:
    text: str
    level: int = 2


@dataclass(frozen=True)
class Text:
    """A paragraph; ``**bold**`` and ``code`` spans are kept as written in Markdown."""

    text: str


@dataclass(frozen=True)
class Items:
    """A bulleted list."""

    items: tuple[str, ...]


@dataclass(frozen=True)
class Table:
    """A table of already formatted cells."""

    frame: pd.DataFrame
    caption: str = ""


@dataclass(frozen=True)
class Image:
    """A PNG figure; ``name`` is its file name (without ``.png``) beside the Markdown."""

    name: str
    png: bytes
    alt: str
    caption: str = ""


Block = Heading | Text | Items | Table | Image

STYLE = """
body { font-family: sans-serif; max-width: 1200px; margin: 2em auto; padding: 0 1em;
       color: #222; line-height: 1.4; }
table { border-collapse: collapse; margin: 0.5em 0 1.2em; font-size: 0.88em; }
th, td { border: 1px solid #bbb; padding: 3px 8px; text-align: right; }
th { background: #eee; } td:first-child, th:first-child { text-align: left; }
figure { margin: 0.5em 0 1.5em; } img { max-width: 100%; height: auto; }
figcaption, caption { font-size: 0.85em; color: #555; text-align: left; }
code { background: #f3f3f3; padding: 0 3px; }
"""


def to_html(title: str, blocks: list[Block]) -> str:
    """One self-contained HTML page: inline CSS, images as data URIs, no scripts."""
    body = "\n".join(_html_block(b) for b in blocks)
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(title)}</title>\n<style>{STYLE}</style>\n</head>\n"
        f"<body>\n{body}\n</body>\n</html>\n"
    )


def to_markdown(blocks: list[Block]) -> str:
    """Markdown with images as ``![alt](name.png)`` links to files beside it."""
    return "\n\n".join(_md_block(b) for b in blocks) + "\n"


def write_report(title: str, blocks: list[Block], out: str | Path) -> dict[str, Path]:
    """Write ``report.html``, ``report.md`` and the PNG files into ``out``."""
    out = Path(out)
    for block in blocks:
        if isinstance(block, Image):
            atomic_write(out / f"{block.name}.png", lambda tmp, b=block: tmp.write_bytes(b.png))
    return {
        "html": write_text(out / "report.html", to_html(title, blocks)),
        "md": write_text(out / "report.md", to_markdown(blocks)),
    }


def _inline(text: str) -> str:
    """Escape, then turn ``code`` and **bold** spans into tags."""
    parts = html.escape(text).split("`")
    for i in range(1, len(parts), 2):
        parts[i] = f"<code>{parts[i]}</code>"
    bold = "".join(parts).split("**")
    for i in range(1, len(bold), 2):
        bold[i] = f"<strong>{bold[i]}</strong>"
    return "".join(bold)


def _html_block(block: Block) -> str:
    if isinstance(block, Heading):
        return f"<h{block.level}>{html.escape(block.text)}</h{block.level}>"
    if isinstance(block, Text):
        return f"<p>{_inline(block.text)}</p>"
    if isinstance(block, Items):
        return "<ul>" + "".join(f"<li>{_inline(i)}</li>" for i in block.items) + "</ul>"
    if isinstance(block, Table):
        return _html_table(block)
    data = base64.b64encode(block.png).decode("ascii")
    caption = f"<figcaption>{_inline(block.caption)}</figcaption>" if block.caption else ""
    return (
        f'<figure><img src="data:image/png;base64,{data}" alt="{html.escape(block.alt)}">'
        f"{caption}</figure>"
    )


def _html_table(block: Table) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in block.frame.columns)
    rows = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_cell(v))}</td>" for v in row) + "</tr>"
        for row in block.frame.itertuples(index=False)
    )
    caption = f"<caption>{_inline(block.caption)}</caption>" if block.caption else ""
    return f"<table>{caption}<thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"


def _md_block(block: Block) -> str:
    if isinstance(block, Heading):
        return "#" * block.level + " " + block.text
    if isinstance(block, Text):
        return block.text
    if isinstance(block, Items):
        return "\n".join(f"- {item}" for item in block.items)
    if isinstance(block, Table):
        return _md_table(block)
    image = f"![{block.alt}]({block.name}.png)"
    return f"{image}\n\n*{block.caption}*" if block.caption else image


def _md_table(block: Table) -> str:
    table = markdown_table(block.frame)
    return f"*{block.caption}*\n\n{table}" if block.caption else table


def markdown_table(frame: pd.DataFrame) -> str:
    """A Markdown table; floats to 4 decimals, missing values empty."""
    columns = [str(c) for c in frame.columns]
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in frame.itertuples(index=False):
        lines.append("| " + " | ".join(_cell(v).replace("|", "\\|") for v in row) + " |")
    return "\n".join(lines)


def _cell(value: object) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return ""
    return f"{value:.4f}" if isinstance(value, float) else str(value)
