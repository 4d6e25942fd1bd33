"""``fusionlab serve`` on the command line: delegation and light parsing."""

from __future__ import annotations

import subprocess
import sys

import pytest

from fusionlab.cli import main


def test_fusionlab_serve_help_is_the_service_parser(capsys):
    with pytest.raises(SystemExit) as done:
        main(["serve", "--help"])
    assert done.value.code == 0
    text = capsys.readouterr().out
    assert "--database" in text and "--workers" in text and "create-token" in text


def test_parsing_serve_options_imports_neither_fastapi_nor_keras():
    code = ("import sys; from fusionlab.service.cli import build_parser; "
            "build_parser().parse_args(['--port', '9', '--workers', '2']); "
            "print(sorted(m for m in ('fastapi', 'uvicorn', 'keras', 'tensorflow', "
            "'sqlalchemy') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert done.stdout.strip() == "[]", done.stderr


def test_bad_serve_options_exit_with_a_message(capsys):
    with pytest.raises(SystemExit) as done:
        main(["serve", "--port", "eighty"])
    assert done.value.code == 2
    assert "invalid int value: 'eighty'" in capsys.readouterr().err
    assert main(["serve", "--workers", "0", "--data-dir", "unused"]) == 2
    assert "`workers` must be a positive integer" in capsys.readouterr().err
