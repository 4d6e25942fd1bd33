"""Issue 14: the command line as a new user meets it.

Each test reproduces what a newcomer ran into: slow help full of TensorFlow
log lines, errors in Python API words, tracebacks after a whole run, outputs
checked only once the training was over.
"""

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from fusionlab.cli import main

FAST = ["--epochs", "1", "--window", "16", "--model", "conv_autoencoder", "--quiet"]


def run_python(code):
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300)


@pytest.fixture
def series_csv(tmp_path):
    rng = np.random.default_rng(0)
    values = np.sin(2 * np.pi * np.arange(160) / 16) + rng.normal(0, 0.05, 160)
    values[100:103] += 3
    frame = pd.DataFrame({
        "timestamp": pd.date_range("2024-03-01", periods=160, freq="h"),
        "load": values,
    })
    path = tmp_path / "series.csv"
    frame.to_csv(path, index=False)
    return path, frame


def error_of(capsys):
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    return lines[0]


# -- 13. fast help, no backend logs -------------------------------------------------------------
def test_help_and_a_missing_file_import_no_keras():
    result = run_python(
        "import sys\n"
        "from fusionlab.cli import main\n"
        "try:\n"
        "    main(['--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "try:\n"
        "    main(['detect', '--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "code = main(['detect', 'no_such_file.csv'])\n"
        "heavy = sorted(m for m in ('keras', 'tensorflow', 'jax', 'torch') if m in sys.modules)\n"
        "print(code, heavy)\n"
    )
    assert result.stdout.strip().splitlines()[-1] == "2 []", result.stdout + result.stderr
    assert "no_such_file.csv" in result.stderr and "Traceback" not in result.stderr


def test_a_run_prints_no_backend_log_lines(series_csv, tmp_path):
    path, _ = series_csv
    result = subprocess.run(
        [sys.executable, "-m", "fusionlab.cli", "detect", str(path), "--time-col", "timestamp",
         *FAST], capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    for noise in ("absl", "oneDNN", "cuda", "cpu_feature_guard", "E0000", "I0000"):
        assert noise not in result.stderr, result.stderr


# -- 14. errors in the command line's words ------------------------------------------------------
def test_a_time_column_without_time_col_suggests_it(series_csv, capsys):
    path, _ = series_csv
    assert main(["detect", str(path), *FAST]) == 2
    line = error_of(capsys)
    assert "--time-col timestamp" in line and "`X`" not in line


def test_missing_values_suggest_impute(series_csv, tmp_path, capsys):
    _, frame = series_csv
    frame.loc[[5, 40], "load"] = np.nan
    path = tmp_path / "gaps.csv"
    frame.to_csv(path, index=False)
    assert main(["detect", str(path), "--time-col", "timestamp", *FAST]) == 2
    line = error_of(capsys)
    assert "--impute" in line and "load" in line


@pytest.mark.parametrize(("content", "message"), [
    (b"\x89PNG\r\n\x1a\n" + bytes(100), "not a text"),
    (b"", "empty"),
    (b"timestamp,load\n", "no data rows"),
], ids=["png", "empty", "header-only"])
def test_files_that_are_not_series_get_one_line(tmp_path, capsys, content, message):
    path = tmp_path / "data.csv"
    path.write_bytes(content)
    assert main(["detect", str(path), *FAST]) == 2
    assert message in error_of(capsys)


def test_semicolon_files_are_read(series_csv, tmp_path, capsys):
    _, frame = series_csv
    path = tmp_path / "semicolon.csv"
    frame.to_csv(path, index=False, sep=";")
    assert main(["detect", str(path), "--time-col", "timestamp", *FAST]) == 0
    assert "window=16" in capsys.readouterr().out


def test_timestamps_across_a_dst_change_are_read(series_csv, tmp_path, capsys):
    _, frame = series_csv
    # Local times of Paris across the spring change: offsets +01:00 then +02:00.
    local = pd.date_range("2024-03-30", periods=160, freq="h", tz="Europe/Paris")
    frame["timestamp"] = local.map(lambda t: t.isoformat())
    path = tmp_path / "dst.csv"
    frame.to_csv(path, index=False)
    assert main(["detect", str(path), "--time-col", "timestamp", *FAST]) == 0


def test_bad_columns_and_options_exit_2(series_csv, capsys):
    path, _ = series_csv
    assert main(["detect", str(path), "--time-col", "nope", *FAST]) == 2
    assert "--time-col 'nope'" in error_of(capsys)
    assert main(["detect", str(path), "--time-col", "timestamp", "--columns", "zz", *FAST]) == 2
    assert "--columns" in error_of(capsys)
    assert main(["detect", str(path), "--time-col", "load", *FAST]) == 2
    assert "--time-col" in error_of(capsys)


def test_smoothing_takes_a_window_name_or_a_number(series_csv, capsys):
    path, _ = series_csv
    for value in ("window", "model", "0.02"):
        assert main(["detect", str(path), "--time-col", "timestamp", "--smoothing", value,
                     *FAST]) == 0
        capsys.readouterr()
    for bad in ("wide", "1.5", "nan"):
        with pytest.raises(SystemExit) as exit_info:
            main(["detect", str(path), "--smoothing", bad, *FAST])
        assert exit_info.value.code == 2
        err = capsys.readouterr().err
        assert "Traceback" not in err
        assert (f"--smoothing: expected 'model', 'window' or a number in [0, 1); "
                f"received '{bad}'") in err


# -- 15. outputs checked before training, written by suffix -------------------------------------
def test_impute_with_a_plot_writes_both(series_csv, tmp_path):
    _, frame = series_csv
    frame.loc[[5, 40], "load"] = np.nan
    path = tmp_path / "gaps.csv"
    frame.to_csv(path, index=False)
    out, plot = tmp_path / "events.csv", tmp_path / "plot.png"
    assert main(["detect", str(path), "--time-col", "timestamp", "--impute", "linear",
                 "--out", str(out), "--plot", str(plot), *FAST]) == 0
    assert out.exists() and plot.stat().st_size > 1000


@pytest.mark.parametrize("out", ["no_such_dir/a.csv", ".", "events.txt"])
def test_bad_outputs_fail_before_training(series_csv, tmp_path, out):
    path, _ = series_csv
    target = str(tmp_path / out) if out != "." else str(tmp_path)
    result = run_python(
        "import sys\n"
        "from fusionlab.cli import main\n"
        f"code = main(['detect', {str(path)!r}, '--time-col', 'timestamp', '--out', {target!r}])\n"
        "print(code, 'keras' in sys.modules)\n"
    )
    assert result.stdout.strip().splitlines()[-1] == "2 False", result.stdout + result.stderr
    assert "--out" in result.stderr and "Traceback" not in result.stderr


def test_bad_plot_path_fails_before_training(series_csv, tmp_path):
    path, _ = series_csv
    result = run_python(
        "import sys\n"
        "from fusionlab.cli import main\n"
        f"code = main(['detect', {str(path)!r}, '--time-col', 'timestamp', '--plot', "
        f"{str(tmp_path / 'nodir' / 'p.png')!r}])\n"
        "print(code, 'keras' in sys.modules)\n"
    )
    assert result.stdout.strip().splitlines()[-1] == "2 False", result.stdout + result.stderr
    assert "--plot" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize(("order", "words"), [
    ([0, 2, 1, 3], "sorted in increasing order"), ([0, 1, 1, 3], "duplicate timestamps")])
def test_unsorted_or_repeated_times_fail_before_training_in_flag_words(tmp_path, order, words):
    frame = pd.DataFrame({"t": pd.date_range("2024-01-01", periods=4, freq="h")[order],
                          "v": [1.0, 2.0, 3.0, 4.0]})
    path = tmp_path / "times.csv"
    frame.to_csv(path, index=False)
    result = run_python(
        "import sys\n"
        "from fusionlab.cli import main\n"
        f"code = main(['detect', {str(path)!r}, '--time-col', 't'])\n"
        "print(code, 'keras' in sys.modules)\n"
    )
    assert result.stdout.strip().splitlines()[-1] == "2 False", result.stdout + result.stderr
    assert "--time-col 't'" in result.stderr and words in result.stderr
    assert "np.datetime64" not in result.stderr and "`timestamps`" not in result.stderr


def test_outputs_are_written_in_the_format_of_their_suffix(series_csv, tmp_path):
    path, _ = series_csv
    xlsx, parquet, json_out = (tmp_path / f"events.{ext}" for ext in ("xlsx", "parquet", "json"))
    for out in (xlsx, parquet, json_out):
        assert main(["detect", str(path), "--time-col", "timestamp", "--out", str(out), *FAST]) == 0
    assert set(pd.read_excel(xlsx).columns) >= {"start", "end", "severity"}
    assert len(pd.read_parquet(parquet)) == len(pd.read_excel(xlsx))
    assert json_out.read_text().lstrip().startswith("[")


def test_the_offered_names_are_the_registered_ones():
    # The parser offers names from fusionlab.vocabulary so that it need not
    # start Keras (the models) or SciPy (the thresholds) to list them.
    from fusionlab.detection import available_models
    from fusionlab.detection.thresholds import THRESHOLDS
    from fusionlab.vocabulary import BUILTIN_MODELS, THRESHOLD_NAMES

    assert set(BUILTIN_MODELS) <= set(available_models())
    assert THRESHOLD_NAMES == tuple(sorted(THRESHOLDS))
