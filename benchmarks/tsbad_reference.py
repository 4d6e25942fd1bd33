"""TSB-AD's own detectors on the labelled NAB files: the figures our baselines must reproduce.

Runs, in a throw-away environment where TSB-AD is installed (never a
dependency of fusionlab), the reference detectors that ``benchmarks/nab.py``
reimplements -- Sub-IForest, MatrixProfile, Sub-KNN, IForest, Sub-PCA and
POLY with TSB-AD's reference settings (``Optimal_Uni_algo_HP_dict``) -- and
scores them with TSB-AD's metric code (``generate_curve``), at the VUS window
of ``benchmarks/nab.py`` (100) and at TSB-AD's own (the series' period,
``find_length_rank(data, rank=1)``). Scores are min-max scaled first, as
TSB-AD's runner does. Writes ``tsbad_reference.csv`` (one row per file and
method) and the raw scores (``tsbad_scores/<method>/<file>.npy``) to
``--out-dir``, so ``benchmarks/nab.py --check-tsbad`` can compare file by file.

Set up and run::

    python -m venv /tmp/tsbad
    /tmp/tsbad/bin/pip install torch==2.13.0   # a CPU wheel: a plain torch pulls CUDA
    /tmp/tsbad/bin/pip install tsb-ad
    PYTHONPATH=. /tmp/tsbad/bin/python benchmarks/tsbad_reference.py
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd

from fusionlab.datasets import list_nab, load_nab

REPO = Path(__file__).resolve().parent.parent
DEFAULT_ROOT = REPO.parent / "shared" / "data" / "nab"
#: TSB-AD's names of the detectors benchmarks/nab.py reimplements.
METHODS = ("Sub_IForest", "MatrixProfile", "Sub_KNN", "IForest", "Sub_PCA", "POLY")


def main(argv=None):
    from sklearn.preprocessing import MinMaxScaler
    from TSB_AD.evaluation.basic_metrics import generate_curve
    from TSB_AD.HP_list import Optimal_Uni_algo_HP_dict
    from TSB_AD.model_wrapper import run_Unsupervise_AD
    from TSB_AD.utils.slidingWindows import find_length_rank

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", default=os.environ.get("FUSIONLAB_NAB_ROOT", str(DEFAULT_ROOT)))
    parser.add_argument("--methods", nargs="*", default=list(METHODS))
    parser.add_argument("--out-dir", default=str(REPO / "benchmarks" / "results"))
    args = parser.parse_args(argv)
    out = Path(args.out_dir)
    rows = []
    for name in list_nab(args.root):
        frame = load_nab(args.root, name)
        labels = frame["label"].to_numpy().astype(int)
        if labels.sum() == 0:
            continue
        data = frame[["value"]].to_numpy(dtype=float)
        period = find_length_rank(data, rank=1)
        for method in args.methods:
            start = time.perf_counter()
            output = run_Unsupervise_AD(method, data, **Optimal_Uni_algo_HP_dict[method])
            seconds = time.perf_counter() - start
            if isinstance(output, str):  # TSB-AD returns its error message
                raise RuntimeError(f"{method} failed on {name}: {output}")
            scores = np.asarray(output, dtype=float).ravel()
            folder = out / "tsbad_scores" / method
            folder.mkdir(parents=True, exist_ok=True)
            np.save(folder / (Path(name).stem + ".npy"), scores)
            scaled = MinMaxScaler().fit_transform(scores[:, None]).ravel()
            vus = {}
            for label, window in (("vus_pr", 100), ("vus_pr_period", period)):
                *_, vus_pr = generate_curve(labels, scaled, window, "opt", 250)
                vus[label] = float(vus_pr)
            rows.append({"file": name, "method": method, "period": period, **vus,
                         "seconds": seconds})
            print(f"{name:<58} {method:<14} VUS-PR {vus['vus_pr']:.3f} "
                  f"(period window {period}: {vus['vus_pr_period']:.3f}) {seconds:6.1f} s",
                  flush=True)
    table = pd.DataFrame(rows)
    out.mkdir(parents=True, exist_ok=True)
    table.to_csv(out / "tsbad_reference.csv", index=False)
    print(table.groupby("method")[["vus_pr", "vus_pr_period", "seconds"]].mean()
          .sort_values("vus_pr", ascending=False).to_string(float_format=lambda v: f"{v:.3f}"))


if __name__ == "__main__":
    main()
