"""The scripts in examples/ run and find what they describe."""

import runpy
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def test_quickstart_finds_the_incidents(tmp_path, capsys):
    module = runpy.run_path(str(EXAMPLES / "quickstart.py"))
    out = tmp_path / "quickstart.png"
    detector, events, row = module["main"](
        ["--epochs", "2", "--model", "conv_autoencoder", "--out", str(out)]
    )
    printed = capsys.readouterr().out
    assert f"window={detector.window_}" in printed and "wrote" in printed
    assert any(event.severity == "critical" for event in events)
    assert row["vus_pr"].iloc[0] > 0.5
    assert out.stat().st_size > 1000
