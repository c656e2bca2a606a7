"""Markdown files with TOML front matter (education modules, imagery scripts).

A file starts with a line ``+++``, then TOML (the metadata), then a closing ``+++``
line, then the Markdown body.

Examples
--------
>>> meta, body = split_front_matter('+++\\nid = "a"\\n+++\\n# Title\\n', "a.md")
>>> meta, body
({'id': 'a'}, '# Title\\n')
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

from resolve._validation import parse_toml
from resolve.errors import DataValidationError

__all__ = ["bundled_texts", "split_front_matter"]

_FENCE = "+++"


def split_front_matter(text: str, source: str) -> tuple[dict[str, Any], str]:
    """The TOML front matter (parsed) and the Markdown body of ``text``.

    Raises
    ------
    DataValidationError
        The text does not start with a ``+++`` line, has no closing one, or the
        front matter is not valid TOML (the message names ``source``).
    """
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].strip() != _FENCE:
        raise DataValidationError(f"{source}: must start with a '+++' line (TOML front matter)")
    for k in range(1, len(lines)):
        if lines[k].strip() == _FENCE:
            meta = parse_toml("".join(lines[1:k]), source)
            return meta, "".join(lines[k + 1 :]).lstrip("\n")
    raise DataValidationError(f"{source}: the front matter has no closing '+++' line")


@cache
def bundled_texts(folder: str) -> dict[str, str]:
    """File stem -> text of every ``*.md`` in ``resolve/program/<folder>``, sorted by name."""
    root = resources.files("resolve.program").joinpath(folder)
    out: dict[str, str] = {}
    for entry in sorted(root.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".md"):
            out[entry.name[: -len(".md")]] = entry.read_text(encoding="utf-8")
    return out
