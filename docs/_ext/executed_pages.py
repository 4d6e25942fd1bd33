"""Run the code of documentation pages, the way a reader would.

A page's ``.. testcode::`` blocks are executed in order in one namespace, with
the working directory set to a chosen folder; the text printed by each block
is compared with the ``.. testoutput::`` block that follows it (doctest's
ELLIPSIS and NORMALIZE_WHITESPACE options: ``...`` stands for text that
varies). The test suite runs every page this way; the Sphinx build runs them
too (with the folder ``docs/_generated``), so the figures a page shows are the
ones its own code writes.
"""

from __future__ import annotations

import contextlib
import doctest
import io
import os
import re
import textwrap
from dataclasses import dataclass
from pathlib import Path

DOCS_DIR = Path(__file__).resolve().parent.parent
GENERATED_DIR = DOCS_DIR / "_generated"

_DIRECTIVE = re.compile(r"^(?P<indent>[ \t]*)\.\. (?P<kind>testcode|testoutput)::[^\n]*$", re.M)
_CHECKER = doctest.OutputChecker()
_FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


@dataclass
class Block:
    """One ``testcode`` block and the output expected from it (or None)."""

    code: str
    expected: str | None
    line: int


def _block_body(text: str, start: int, indent: str) -> str:
    """The indented body that follows a directive line (options skipped)."""
    lines = text[start:].split("\n")[1:]
    body = []
    for line in lines:
        if line.strip() and not line.startswith(indent + " ") and not line.startswith(indent + "\t"):
            break
        body.append(line)
    # Directive options (":hide:" ...) come first; they are not code.
    while body and body[0].strip().startswith(":"):
        body.pop(0)
    return textwrap.dedent("\n".join(body)).strip("\n") + "\n"


def parse_blocks(path: Path) -> list[Block]:
    """The ``testcode`` blocks of an rst page, each with its expected output."""
    text = Path(path).read_text(encoding="utf-8")
    blocks: list[Block] = []
    for match in _DIRECTIVE.finditer(text):
        body = _block_body(text, match.start(), match.group("indent"))
        line = text.count("\n", 0, match.start()) + 1
        if match.group("kind") == "testcode":
            blocks.append(Block(body, None, line))
        elif blocks and blocks[-1].expected is None:
            blocks[-1].expected = body
        else:
            raise ValueError(f"{path}:{line}: a testoutput block must follow a testcode block")
    return blocks


def executed_pages(root: Path = DOCS_DIR) -> list[Path]:
    """Every page under ``root`` that has code to run."""
    return sorted(
        p for p in root.rglob("*.rst")
        if "_build" not in p.parts and _DIRECTIVE.search(p.read_text(encoding="utf-8"))
    )


class PageError(AssertionError):
    """A block raised or printed something other than what the page shows."""


def run_page(path: Path, workdir: Path) -> dict:
    """Execute a page's blocks in ``workdir``; return the final namespace."""
    path = Path(path).resolve()
    workdir = Path(workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    namespace: dict = {"__name__": "__main__"}
    previous = os.getcwd()
    blocks = parse_blocks(path)
    os.chdir(workdir)
    try:
        for block in blocks:
            buffer = io.StringIO()
            with contextlib.redirect_stdout(buffer):
                try:
                    exec(compile(block.code, f"{path.name}:{block.line}", "exec"), namespace)
                except Exception as exc:  # re-raised with the page position
                    raise PageError(
                        f"{path.name}, block at line {block.line} raised "
                        f"{type(exc).__name__}: {exc}"
                    ) from exc
            got = buffer.getvalue()
            if block.expected is not None and not _CHECKER.check_output(
                block.expected, got, _FLAGS
            ):
                raise PageError(
                    f"{path.name}, block at line {block.line}: printed output differs.\n"
                    f"--- expected ---\n{block.expected}--- got ---\n{got}"
                )
    finally:
        os.chdir(previous)
    return namespace


def _run_pages_for_build(app):
    """Sphinx hook: run every executed page so its figures exist."""
    if os.environ.get("FUSIONLAB_DOCS_SKIP_EXECUTION"):
        return
    for page in executed_pages(Path(app.srcdir)):
        run_page(page, GENERATED_DIR)


def setup(app):
    app.connect("builder-inited", _run_pages_for_build)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
