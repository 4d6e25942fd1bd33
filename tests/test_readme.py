"""The README's set-up commands and CI stay in step."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _readme_commands():
    text = (ROOT / "README.rst").read_text(encoding="utf-8")
    return re.findall(r"^    (python -m pip install .+)$", text, flags=re.M)


def test_readme_holds_the_demo_and_the_test_command():
    commands = _readme_commands()
    assert len(commands) == 2, commands
    demo, tests = commands
    assert demo.endswith("fusionlab demo")
    assert tests.endswith("python -m pytest")


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert _readme_commands()[1] in ci.splitlines()


def test_readme_python_examples_run(tmp_path, monkeypatch):
    # The README's examples are the first code a newcomer copies: run them
    # as written, one namespace per block.
    monkeypatch.chdir(tmp_path)
    text = (ROOT / "README.rst").read_text(encoding="utf-8")
    blocks = re.findall(r"^\.\. code-block:: python\n\n((?:    .*\n|\n)+)", text, flags=re.M)
    assert len(blocks) >= 2
    for block in blocks:
        code = "\n".join(line[4:] for line in block.splitlines())
        exec(compile(code, "README.rst", "exec"), {})
