"""Reading Markdown back as GitHub would: markdown-it-py's "gfm-like" preset (CommonMark, GFM tables and
strikethrough, and linkify for GitHub's bare autolinks), and the checks that data stayed text."""

from __future__ import annotations

import re

from markdown_it import MarkdownIt
from markdown_it.token import Token

# The only HTML the renderer writes itself: the collapsible blocks and their headlines.
OWN_TAGS = re.compile(r"</?(details|summary|code|b)( open)?>")


def parser() -> MarkdownIt:
    return MarkdownIt("gfm-like")


def tokens(markdown: str) -> list[Token]:
    """Every token, inline children included."""
    flat: list[Token] = []
    for token in parser().parse(markdown):
        flat.append(token)
        flat.extend(token.children or ())
    return flat


def tables(markdown: str) -> list[list[list[str]]]:
    """Each table as its rows (the header row first), each row as its cells' inline source."""
    found: list[list[list[str]]] = []
    block = parser().parse(markdown)
    for index, token in enumerate(block):
        if token.type == "table_open":
            found.append([])
        elif token.type == "tr_open":
            found[-1].append([])
        elif token.type in ("th_open", "td_open"):
            found[-1][-1].append(block[index + 1].content)
    return found


def table_rows(markdown: str) -> list[list[str]]:
    """The rows of every table, one after the other."""
    return [row for table in tables(markdown) for row in table]


def assert_only_text_from_data(markdown: str) -> None:
    """No link, no image, no inline HTML; HTML blocks hold only the renderer's own tags, and a `<summary>` no
    other `<` than theirs."""
    found = tokens(markdown)
    assert not [t for t in found if t.type in ("link_open", "image", "html_inline")]
    for token in found:
        if token.type == "html_block":
            assert OWN_TAGS.sub("", re.sub(r"<summary>.*</summary>", "", token.content)).strip() == ""
            for summary in re.findall(r"<summary>(.*)</summary>", token.content):
                assert "<" not in OWN_TAGS.sub("", summary), summary
    rendered = parser().render(markdown)
    assert "<script" not in rendered and "<img" not in rendered and "<a " not in rendered
