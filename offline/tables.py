"""The one table renderer of the offline reports (plan, platform plan, audit, diff): plain text and Markdown."""

from __future__ import annotations


def text_table(rows: list[tuple], headers: tuple) -> str:
    """Columns padded to their widest cell, a dashed rule under the headers."""
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows)]
    line = lambda row: "  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip()  # noqa: E731
    return "\n".join([line(headers), line(tuple("-" * w for w in widths)), *map(line, rows)])


def md_text(text: str) -> str:
    """Text safe inside a Markdown table cell (GitHub): no pipe, no HTML, one line."""
    return text.replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;").replace("\n", " ")


def markdown_table(rows: list[tuple], headers: tuple) -> list[str]:
    """The lines of a GitHub Markdown table; every cell escaped with `md_text`."""
    row = lambda cells: "| " + " | ".join(md_text(str(c)) for c in cells) + " |"  # noqa: E731
    return [row(headers), "|" + "---|" * len(headers), *map(row, rows)]
