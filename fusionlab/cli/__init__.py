"""Command line interface: ``fusionlab detect``, ``fusionlab demo`` and ``fusionlab serve``.

Parsing and every check of the files and options run before Keras is
imported, so ``fusionlab --help`` is instant and a typo costs no training;
the backend's native start-up log lines are hidden (``--verbose`` shows
them). Errors of the user's making print one line and exit with status 2.
"""

from __future__ import annotations

import argparse
import os
import re
import sys

from ..vocabulary import BUILTIN_MODELS, SEVERITIES, THRESHOLD_NAMES

__all__ = ["main", "build_parser"]

#: Exit status of an error in the command, its options or its files.
USAGE_ERROR = 2
# Options of `detect` named by the detector's parameter they set, so that
# the detector's messages speak the command line's words.
_FLAGS = {
    "window": "--window", "epochs": "--epochs", "batch_size": "--batch-size",
    "threshold": "--threshold", "contamination": "--contamination",
    "smoothing": "--smoothing", "peak_weight": "--peak-weight", "impute": "--impute",
    "random_state": "--seed", "timestamps": "--time-col",
}


def _smoothing(text):
    """``--smoothing``: 'model', 'window' or a number (argparse reports a bad one)."""
    if text in ("model", "window"):
        return text
    try:
        value = float(text)
    except ValueError:
        value = None
    if value is None or not 0 <= value < 1:
        raise argparse.ArgumentTypeError(
            f"expected 'model', 'window' or a number in [0, 1); received {text!r}")
    return value


def build_parser():
    """The ``fusionlab`` argument parser (imports nothing heavy)."""
    parser = argparse.ArgumentParser(
        prog="fusionlab", description="Time-series anomaly detection with fusionlab."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    detect = sub.add_parser("detect", help="detect anomalies in a CSV (or .xlsx) file")
    detect.add_argument("data", help="CSV file (',', ';' or tab separated) or .xlsx, "
                                     "one row per time step")
    detect.add_argument("--time-col", help="column of timestamps: numbers stay numbers, "
                                           "text is read as dates (in UTC when the "
                                           "offsets change, as at a daylight-saving change)")
    detect.add_argument("--columns", nargs="+", help="feature columns (default: all others)")
    detect.add_argument("--out", help="write the anomalies to .csv, .json, .parquet or .xlsx")
    detect.add_argument("--plot", help="write a figure (.png, .pdf or .svg)")
    detect.add_argument("--model", default="lstm_autoencoder", choices=BUILTIN_MODELS)
    detect.add_argument("--window", type=int, help="window length (default: from the data)")
    detect.add_argument("--epochs", type=int, default=15)
    detect.add_argument("--batch-size", type=int, default=64)
    detect.add_argument("--threshold", default="percentile", choices=THRESHOLD_NAMES)
    detect.add_argument("--contamination", type=float, default=0.05)
    detect.add_argument("--smoothing", type=_smoothing,
                        help="average the scores over the model's window ('model', the "
                             "default), the scorers' window ('window') or this fraction "
                             "of the series (0 keeps the raw point errors)")
    detect.add_argument("--peak-weight", type=float,
                        help="keep this fraction of a point's own error through the "
                             "smoothing (default 0.125)")
    detect.add_argument("--impute", choices=["linear", "ffill"], help="fill NaN/inf values")
    detect.add_argument("--min-severity", choices=SEVERITIES, help="report only these or worse")
    detect.add_argument("--seed", type=int, default=0)
    detect.add_argument("--quiet", action="store_true", help="no progress bar")
    detect.add_argument("--verbose", action="store_true",
                        help="show the backend's start-up log lines")

    demo = sub.add_parser("demo", help="run the detector on a generated series")
    demo.add_argument("--out-dir", default=".", help="where to write the CSV and PNG")
    demo.add_argument("--epochs", type=int, default=15)
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--quiet", action="store_true", help="no progress bar")
    demo.add_argument("--verbose", action="store_true",
                      help="show the backend's start-up log lines")

    # Parsed by fusionlab.service.cli (see main), so that FastAPI is imported
    # only when the service runs.
    sub.add_parser("serve", add_help=False,
                   help="run the anomaly service (fusionlab serve --help)")
    return parser


def _in_flags(message):
    """The detector's message with its parameter names as the options that set them."""
    for name, flag in _FLAGS.items():
        message = re.sub(rf"`{name}`", flag, message)
    return message.replace("`X`", "the data")


def main(argv=None):
    """Entry point of the ``fusionlab`` command; returns the exit status.

    0 on success, 2 for an error in the command, its options or its files
    (one line on standard error), 1 for an unexpected failure.
    ``FUSIONLAB_DEBUG=1`` in the environment shows the traceback instead.

    Examples
    --------
    ``fusionlab detect data.csv --time-col timestamp --out anomalies.csv --plot anomalies.png``
    ``fusionlab demo --out-dir results``
    ``fusionlab serve --port 8080`` (see :mod:`fusionlab.service.cli`)
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["serve"]:
        from ..service.cli import main as serve

        return serve(argv[1:])
    args = build_parser().parse_args(argv)
    os.environ.setdefault("MPLBACKEND", "Agg")
    from . import commands
    from .files import CommandError

    run = commands.detect if args.command == "detect" else commands.demo
    try:
        return run(args, sys.stdout)
    except CommandError as exc:
        print(f"fusionlab {args.command}: error: {exc}", file=sys.stderr)
    except (ValueError, TypeError, OSError, ImportError) as exc:
        if os.environ.get("FUSIONLAB_DEBUG"):
            raise
        print(f"fusionlab {args.command}: error: {_in_flags(str(exc))}", file=sys.stderr)
    except KeyboardInterrupt:
        print(f"fusionlab {args.command}: interrupted.", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - a bug of ours: one line, not a traceback
        if os.environ.get("FUSIONLAB_DEBUG"):
            raise
        print(f"fusionlab {args.command}: unexpected error ({type(exc).__name__}: {exc}); "
              "please report it (FUSIONLAB_DEBUG=1 shows the traceback).", file=sys.stderr)
        return 1
    return USAGE_ERROR


if __name__ == "__main__":
    sys.exit(main())
