"""Run docs/user_guide/detector.rst: testcode blocks in order, one namespace.

A minimal stand-in for the project's docs runner (same rules: fresh temp
cwd, doctest ELLIPSIS + NORMALIZE_WHITESPACE on every testoutput).
"""

import contextlib
import doctest
import io
import os
import pathlib
import re

PAGE = pathlib.Path(__file__).resolve().parents[1] / "docs" / "user_guide" / "detector.rst"


def _blocks(text):
    pattern = re.compile(r"^\.\. (testcode|testoutput)::\n\n((?:(?:    .*)?\n)+)", re.M)
    for match in pattern.finditer(text):
        body = "\n".join(line[4:] for line in match.group(2).splitlines())
        yield match.group(1), body.strip("\n") + "\n"


def test_detector_page_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    namespace, last = {}, ""
    checker = doctest.OutputChecker()
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    for kind, body in _blocks(PAGE.read_text()):
        if kind == "testcode":
            buffer = io.StringIO()
            with contextlib.redirect_stdout(buffer):
                exec(compile(body, str(PAGE), "exec"), namespace)  # noqa: S102
            last = buffer.getvalue()
        else:
            assert checker.check_output(body, last, flags), f"expected:\n{body}\ngot:\n{last}"
    assert os.path.getsize("detector_events.png") > 1000
