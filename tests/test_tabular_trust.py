"""Issue 14 on the tabular side: archives and input files that can be trusted.

Saved detectors are loaded without pickle and every stored field is checked;
spreadsheets are checked before they are parsed; saves are atomic.
"""

import json
import os
import re
import struct
import warnings
import zipfile
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import IsolationForest

from fusionlab.tabular import (
    TabularAnomalyDetector,
    detect_anomalies_in_excel,
    excel,
    isolation_trees,
    read_table,
    save_folder,
)
from fusionlab.tabular.column_typing import coerce_frame, infer_column_types
from fusionlab.tabular.isolation_trees import IsolationTrees

FOREST = {"method": "isolation_forest", "n_estimators": 20, "random_state": 0}
SMALL_AE = {"method": "autoencoder", "encoding_dim": 2, "hidden_units": (8,), "random_state": 0,
            "epochs": 3}


def make_frame(n=200, seed=0):
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({
        "amount": rng.normal(100, 10, n),
        "age": rng.integers(20, 60, n).astype(float),
        "shop": rng.choice(["a", "b", "c"], n),
        "paid": rng.random(n) < 0.4,
    })
    df.loc[7, "amount"] = 5_000.0
    return df


@pytest.fixture(scope="module")
def frame():
    return make_frame()


@pytest.fixture(scope="module")
def forest(frame):
    return TabularAnomalyDetector(**FOREST).fit(frame)


@pytest.fixture(scope="module")
def forest_raw(frame):
    # The forest's own scores, without the sanity signals (sanity_checks=False).
    return TabularAnomalyDetector(**FOREST, sanity_checks=False).fit(frame)


class _Payload:
    """Unpickling it creates ``marker``: what a crafted model file could do."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


# -- item 1: no unpickling ----------------------------------------------------------
_UNPICKLE = re.compile(r"(joblib|pickle|cloudpickle|dill)\.loads?\(|allow_pickle=True")


def test_no_unpickling_call_in_the_tabular_package():
    package = Path(__file__).resolve().parents[1] / "fusionlab" / "tabular"
    found = [f"{path.name}: {line.strip()}"
             for path in sorted(package.glob("*.py"))
             for line in path.read_text().splitlines() if _UNPICKLE.search(line)]
    assert found == []


def test_a_pickled_forest_of_an_old_save_is_refused_unread(tmp_path, forest):
    folder = tmp_path / "model"
    forest.save(folder)
    config = json.loads((folder / "detector.json").read_text())
    # What format 3 wrote: the forest pickled by joblib under a fixed name.
    config["format"] = "fusionlab.tabular.TabularAnomalyDetector/3"
    config.pop("files", None)
    (folder / "detector.json").write_text(json.dumps(config))
    np.save(folder / "training_scores.npy", forest.training_scores_)
    marker = tmp_path / "code_ran"
    joblib.dump(_Payload(marker), folder / "isolation_forest.joblib")
    with pytest.raises(ValueError, match=r"older fusionlab.*never loaded.*train and save it again"):
        TabularAnomalyDetector.load(folder)
    assert not marker.exists()
    with pytest.raises(ValueError, match="never loaded"):
        detect_anomalies_in_excel(make_frame(), model_path=folder)
    assert not marker.exists()
    # Not retrained over either: the old files are still there.
    assert (folder / "isolation_forest.joblib").is_file()


def test_a_pickle_in_place_of_the_forest_arrays_is_refused(tmp_path, forest):
    folder = tmp_path / "model"
    forest.save(folder)
    config = json.loads((folder / "detector.json").read_text())
    model_file = folder / config["files"]["model"]
    marker = tmp_path / "code_ran"
    joblib.dump(_Payload(marker), model_file)
    with pytest.raises(ValueError, match=re.escape(model_file.name)):
        TabularAnomalyDetector.load(folder)
    assert not marker.exists()


def test_the_forest_is_saved_as_plain_arrays(tmp_path, forest, frame):
    folder = forest.save(tmp_path / "model")
    assert not list(folder.glob("*.joblib")) and not list(folder.glob("*.pkl"))
    config = json.loads((folder / "detector.json").read_text())
    with np.load(folder / config["files"]["model"], allow_pickle=False) as arrays:
        assert all(arrays[name].dtype.kind in "biuf" or arrays[name].dtype.kind == "U"
                   for name in arrays.files)
    loaded = TabularAnomalyDetector.load(folder)
    np.testing.assert_array_equal(loaded.score_samples(frame), forest.score_samples(frame))
    assert loaded.model_id_ == forest.model_id_


@pytest.mark.parametrize("params", [
    {"n_estimators": 25, "random_state": 0},
    {"n_estimators": 10, "max_samples": 64, "random_state": 3},
    {"n_estimators": 10, "max_features": 0.5, "random_state": 1},
    {"n_estimators": 5, "max_samples": 1, "random_state": 0},
])
def test_isolation_trees_score_bit_identically_to_scikit_learn(params):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 5))
    X[:, 2] = np.round(X[:, 2])  # ties at the thresholds
    forest = IsolationForest(**params).fit(X)
    trees = IsolationTrees.from_forest(forest, X)
    new = np.vstack([X, rng.normal(scale=50, size=(40, 5)), np.full((1, 5), 1e30),
                     X[:3] + np.float32(1e-7), np.where(np.eye(5, dtype=bool), np.nan, 0.0)])
    np.testing.assert_array_equal(trees.score_samples(new), forest.score_samples(new))
    again = IsolationTrees.from_arrays(trees.to_arrays(), source="test")
    np.testing.assert_array_equal(again.score_samples(new), forest.score_samples(new))
    assert again.max_samples_ == forest.max_samples_


# -- item 8: unseen categories when every training category is common -------------
def test_an_unseen_category_raises_the_score_when_all_categories_are_common():
    rng = np.random.default_rng(0)
    n = 300
    country = rng.choice(["DE", "FR", "US"], n)
    df = pd.DataFrame({"amount": rng.normal(100, 10, n),
                       "shop": rng.choice(["a", "b"], n),  # both common
                       "country": country,
                       "currency": pd.Series(country).map(
                           {"DE": "EUR", "FR": "EUR", "US": "USD"})})
    det = TabularAnomalyDetector(**FOREST).fit(df)
    row = df.iloc[[0, 1, 2]]
    seen = det.score_samples(row)
    unseen = det.score_samples(row.assign(shop="never seen"))
    assert (unseen > seen).all()
    # Two unseen values weigh more than one; a currency that does not go
    # with its country (both values seen) counts too.
    both = det.score_samples(row.assign(shop="never seen", country="XX"))
    assert (both > unseen).all()
    mismatch = det.score_samples(row.assign(country="US", currency="EUR"))
    assert (mismatch > det.score_samples(row.assign(country="US", currency="USD"))).all()


def test_training_scores_stay_those_of_scikit_learn(frame, forest_raw):
    forest = forest_raw
    X = forest.preprocessor_.transform(coerce_frame(frame, forest.column_types_))
    sklearn_forest = IsolationForest(n_estimators=FOREST["n_estimators"],
                                     max_samples=len(X), random_state=0).fit(X)
    np.testing.assert_array_equal(forest.training_scores_, -sklearn_forest.score_samples(X))


# -- item 2: decompression bombs ----------------------------------------------------
_SHEET = "xl/worksheets/sheet1.xml"
_SHEET_HEAD = (b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
               b"<sheetData>")
_SHEET_TAIL = b"</sheetData></worksheet>"


def _workbook_with_sheet(tmp_path, name, chunks, zip64=False):
    """An .xlsx made by pandas whose first sheet's XML is replaced by ``chunks``."""
    base = tmp_path / f"base_{name}"
    pd.DataFrame({"a": [1, 2]}).to_excel(base, index=False, engine="openpyxl")
    path = tmp_path / name
    with zipfile.ZipFile(base) as source, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for info in source.infolist():
            if info.filename == _SHEET:
                with out.open(_SHEET, "w", force_zip64=zip64) as handle:
                    for chunk in chunks:
                        handle.write(chunk)
            else:
                out.writestr(info, source.read(info.filename))
    return path


def _bomb(tmp_path, megabytes):
    row = b'<row><c t="n"><v>1</v></c><c t="n"><v>2</v></c></row>' * 2000
    header = b'<row><c t="inlineStr"><is><t>a</t></is></c><c t="inlineStr"><is><t>b</t></is></c></row>'
    n = megabytes * 2**20 // len(row) + 1
    return _workbook_with_sheet(tmp_path, "bomb.xlsx",
                                [_SHEET_HEAD, header, *([row] * n), _SHEET_TAIL], zip64=True)


def test_a_decompression_bomb_is_refused_before_parsing(tmp_path, monkeypatch):
    bomb = _bomb(tmp_path, 24)
    assert bomb.stat().st_size < 300_000  # 24 MB of XML in a small file
    monkeypatch.setattr(pd, "read_excel", lambda *a, **k: pytest.fail("parsed"))
    with pytest.raises(ValueError, match=r"would expand to [\d,]+ bytes.*limit is 8,388,608"):
        read_table(bomb, max_uncompressed_bytes=8 * 2**20)
    monkeypatch.setattr(excel, "MAX_UNCOMPRESSED_BYTES", 8 * 2**20)
    with pytest.raises(ValueError, match=r"bomb\.xlsx would expand.*decompression bomb"):
        read_table(bomb)
    with pytest.raises(ValueError, match="decompression bomb"):
        detect_anomalies_in_excel(bomb, **FOREST)


def test_the_default_limit_refuses_a_sheet_declaring_gigabytes(tmp_path):
    path = _workbook_with_sheet(tmp_path, "declared.xlsx", [_SHEET_HEAD, _SHEET_TAIL])
    data = bytearray(path.read_bytes())
    # Declare 1.7 GB for the sheet in the central directory, as a bomb does.
    entry = data.index(b"PK\x01\x02")
    while True:
        name_len, extra, comment = struct.unpack_from("<HHH", data, entry + 28)
        if bytes(data[entry + 46:entry + 46 + name_len]) == _SHEET.encode():
            break
        entry += 46 + name_len + extra + comment
    struct.pack_into("<I", data, entry + 24, 1_700_000_000)
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"1,700,000,000 bytes.*decompression bomb"):
        read_table(path)


@pytest.mark.parametrize("last_row", [
    # Two cells, at A1 and XFD1048576: a few hundred bytes that pandas would
    # pad to 17 billion cells.
    b'<row r="1048576"><c r="XFD1048576" t="n"><v>1</v></c></row>',
    # Cells without a reference: their column is their position.
    b'<row r="1048576">' + b"<c/>" * 16383 + b'<c t="n"><v>1</v></c></row>',
    # With a formula (the sheet is then parsed as XML).
    b'<row r="1048576"><c r="XFD1048576"><f>1+1</f><v>2</v></c></row>',
])
def test_a_sparse_sheet_is_refused_by_its_extent(tmp_path, monkeypatch, last_row):
    path = _workbook_with_sheet(tmp_path, "sparse.xlsx", [
        _SHEET_HEAD, b'<row r="1"><c r="A1" t="inlineStr"><is><t>a</t></is></c></row>',
        last_row, _SHEET_TAIL])
    monkeypatch.setattr(pd, "read_excel", lambda *a, **k: pytest.fail("parsed"))
    with pytest.raises(ValueError, match=r"1,048,576 rows.*16,384 columns"):
        read_table(path)


@pytest.mark.parametrize("suffix", [".xlsx", ".csv"])
def test_row_and_cell_limits(tmp_path, monkeypatch, suffix):
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"a": rng.normal(size=50), "b": rng.integers(0, 5, 50)})
    path = tmp_path / f"table{suffix}"
    df.to_excel(path, index=False) if suffix == ".xlsx" else df.to_csv(path, index=False)
    with pytest.raises(ValueError, match=r"more than the limit of 20 rows \(max_rows\)"):
        read_table(path, max_rows=20)
    with pytest.raises(ValueError, match=r"more than the limit of 60 cells \(max_cells\)"):
        read_table(path, max_cells=60)
    assert len(read_table(path, max_rows=50, max_cells=100)) == 50
    monkeypatch.setattr(excel, "MAX_ROWS", 10)
    with pytest.raises(ValueError, match="max_rows"):
        detect_anomalies_in_excel(path, **FOREST)
    assert len(detect_anomalies_in_excel(path, max_rows=60, **FOREST)[1].training_scores_) == 50
    with pytest.raises(ValueError, match="max_rows"):
        read_table(path, max_rows=0)


def test_a_huge_detector_json_is_refused_unread(tmp_path, forest, monkeypatch):
    folder = forest.save(tmp_path / "model")
    size = (folder / "detector.json").stat().st_size
    with pytest.raises(ValueError, match=r"detector\.json holds [\d,]+ bytes, more than the limit"):
        TabularAnomalyDetector.load(folder, max_config_bytes=size - 1)
    monkeypatch.setattr(save_folder, "MAX_CONFIG_BYTES", size - 1)
    with pytest.raises(ValueError, match="more than the limit"):
        TabularAnomalyDetector.load(folder)
    with pytest.raises(ValueError, match="more than the limit"):
        detect_anomalies_in_excel(make_frame(), model_path=folder)
    monkeypatch.setattr(save_folder, "MAX_CONFIG_BYTES", size)
    assert TabularAnomalyDetector.load(folder).model_id_ == forest.model_id_


# -- item 6: values read as missing without a word --------------------------------
def _formula_workbook(tmp_path):
    # openpyxl writes formulas without computing them: no cached values, as
    # a file from a script or a web export can be.
    import openpyxl

    path = tmp_path / "formulas.xlsx"
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["price", "qty", "total", "shop"])
    rng = np.random.default_rng(0)
    for i in range(2, 42):
        sheet.append([float(rng.normal(10, 1)), int(rng.integers(1, 5)), f"=A{i}*B{i}",
                      "ab"[i % 2]])
    book.save(path)
    return path


def test_formula_cells_without_cached_values_are_reported(tmp_path):
    path = _formula_workbook(tmp_path)
    with pytest.warns(UserWarning, match=r"'total'.*40 formula cell\(s\) without a cached "
                                         r"value.*C2"):
        df = read_table(path)
    assert df["total"].isna().all()
    assert "formula" in df.attrs["fusionlab.column_notes"]["total"]
    with pytest.warns(UserWarning, match="formula"):
        _, det = detect_anomalies_in_excel(path, **FOREST)
    # The column is dropped (all missing), and the notes say why.
    assert "total" in det.excluded_columns_
    assert "formula cell(s) without a cached value" in det.excluded_columns_["total"]
    assert "formula" in det.column_notes_["total"]


def test_decimal_commas_in_a_semicolon_csv_are_read_as_numbers(tmp_path):
    rng = np.random.default_rng(0)
    n = 60
    prices = rng.normal(100, 10, n).round(2)
    lines = ["price;qty;note;code"] + [
        f"{str(p).replace('.', ',')};{q};a, b;{c}"
        for p, q, c in zip(prices, rng.integers(1, 9, n), rng.integers(0, 10**6, n), strict=True)]
    lines[5] = lines[5].replace(lines[5].split(";")[0], "-7", 1)  # an integer among them
    path = tmp_path / "de.csv"
    path.write_text("\n".join(lines) + "\n")
    with pytest.warns(UserWarning, match=r"\['price'\].*decimal comma"):
        df = read_table(path)
    assert df["price"].dtype == "float64"
    expected = prices.copy()
    expected[4] = -7
    np.testing.assert_array_equal(df["price"].to_numpy(), expected)
    assert df["note"].iloc[0] == "a, b"  # text with a comma is left alone
    assert "decimal comma" in df.attrs["fusionlab.column_notes"]["price"]
    with pytest.warns(UserWarning, match="decimal comma"):
        _, det = detect_anomalies_in_excel(path, **FOREST)
    assert det.column_types_["price"] == "numeric"
    assert "decimal comma" in det.column_notes_["price"]


def test_numbers_with_thousands_dots_are_reported_not_guessed(tmp_path):
    path = tmp_path / "thousands.csv"
    rows = [f"{1 + i // 10}.{i:03d},{i % 10};{i % 3}" for i in range(30)]  # 1.000,0
    path.write_text("amount;k\n" + "\n".join(rows) + "\n")
    with pytest.warns(UserWarning, match=r"'amount'.*kept as text"):
        df = read_table(path)
    assert df["amount"].dtype != "float64"
    assert "kept as text" in df.attrs["fusionlab.column_notes"]["amount"]


def test_a_comma_separated_file_is_not_read_with_decimal_commas(tmp_path):
    path = tmp_path / "us.csv"
    path.write_text('amount,k\n"1,234",1\n"2,500",2\n')
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        df = read_table(path)
    assert df["amount"].tolist() == ["1,234", "2,500"]


# -- item 10: duplicate headers ----------------------------------------------------
@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_duplicate_headers_in_a_file_are_refused(tmp_path, suffix):
    path = tmp_path / f"dupes{suffix}"
    if suffix == ".csv":
        path.write_text("amount,shop,amount,x,shop\n1,a,2,3,b\n4,b,5,6,c\n")
    else:
        import openpyxl

        book = openpyxl.Workbook()
        book.active.append(["amount", "shop", "amount", "x", "shop"])
        book.active.append([1, "a", 2, 3, "b"])
        book.save(path)
    with pytest.raises(ValueError, match=r"duplicated column headers \['amount', 'shop'\]"):
        read_table(path)
    with pytest.raises(ValueError, match="duplicated column headers"):
        detect_anomalies_in_excel(path, **FOREST)


def test_duplicate_columns_of_a_dataframe_are_refused(frame, forest):
    dup = pd.concat([frame, frame[["amount"]]], axis=1)
    with pytest.raises(ValueError, match=r"duplicated column names \['amount'\]"):
        detect_anomalies_in_excel(dup, **FOREST)
    with pytest.raises(ValueError, match=r"duplicated column names \['amount'\]"):
        forest.score_samples(dup)


# -- item 12: truncated workbooks, bytes columns ------------------------------------
def test_a_truncated_workbook_gives_a_clear_error(tmp_path):
    good = tmp_path / "good.xlsx"
    make_frame(50).to_excel(good, index=False)
    with zipfile.ZipFile(good) as source:
        xml = source.read(_SHEET)
    cut = _workbook_with_sheet(tmp_path, "cut.xlsx", [xml[: len(xml) // 2]])
    with pytest.raises(ValueError, match=r"cut\.xlsx is not a readable \.xlsx workbook.*sheet1\.xml"):
        read_table(cut)
    with pytest.raises(ValueError, match="not a readable"):
        detect_anomalies_in_excel(cut, **FOREST)


# -- item 3: tampered saves -----------------------------------------------------------
@pytest.fixture(scope="module")
def autoencoder(frame):
    return TabularAnomalyDetector(**SMALL_AE).fit(frame)


def _edit_config(folder, edit):
    path = folder / "detector.json"
    config = json.loads(path.read_text())
    edit(config)
    path.write_text(json.dumps(config))  # NaN and Infinity written as JSON allows


def _set(*keys, value):
    def edit(config):
        target = config
        for key in keys[:-1]:
            target = target[key]
        target[keys[-1]] = value
    return edit


def _delete(*keys):
    def edit(config):
        target = config
        for key in keys[:-1]:
            target = target[key]
        del target[keys[-1]]
    return edit


@pytest.mark.parametrize("edit, field", [
    (_set("threshold_", value=float("nan")), "threshold_"),
    (_set("threshold_", value=float("inf")), "threshold_"),
    (_set("threshold_", value="0.5"), "threshold_"),
    (_set("threshold_", value=True), "threshold_"),
    (_delete("threshold_"), "threshold_"),
    (_set("method_", value="lof"), "method_"),
    (_delete("feature_names_in_"), "feature_names_in_"),
    (_set("feature_names_in_", value="amount"), "feature_names_in_"),
    (_set("column_types_", value=["amount"]), "column_types_"),
    (_set("column_types_", "amount", value="complex"), "column_types_"),
    (_set("column_notes_", value={"amount": 3}), "column_notes_"),
    (_set("params", "n_estimators", value=-1), "params"),
    (_set("params", "surprise", value=1), "params"),
    (_set("model_id_", value=7), "model_id_"),
    (_set("state_digest", value="isolation_forest-000000000000"), "state_digest"),
    (_set("files", "model", value="../../elsewhere.npz"), "files.model"),
    (_delete("files"), "files"),
    (_set("preprocessor", "dense", "numeric", "center", value=[1.0]),
     "preprocessor.dense.numeric.center"),
    (_set("preprocessor", "dense", "numeric", "scale", value=[1.0, float("nan")]),
     "preprocessor.dense.numeric.scale"),
    (_set("preprocessor", "dense", "numeric", "scale", value=[0.0, 1.0]),
     "preprocessor.dense.numeric.scale"),
    (_set("preprocessor", "rarity", "counts", value=[[1.0, -2.0, 3.0], [1.0, 2.0]]),
     "preprocessor.rarity.counts"),
    (_set("preprocessor", "rarity", "counts", value=[[1.0, 2.0], [1.0, 2.0]]),
     "preprocessor.rarity.counts"),
    (_set("preprocessor", "rarity", "n_samples", value=0), "preprocessor.rarity.n_samples"),
    (_set("preprocessor", "rarity", "pairs", value=[[0, 7]]), "preprocessor.rarity.pairs"),
    (_set("preprocessor", "clip", value="big"), "preprocessor.clip"),
    (_set("preprocessor", "fill_values", "amount", value=None),
     "preprocessor.fill_values.amount"),
    (_set("preprocessor", "fill_values", "shop", value=3), "preprocessor.fill_values.shop"),
    (_delete("preprocessor", "rarity"), "preprocessor.rarity"),
])
def test_a_tampered_forest_save_is_refused_naming_the_field(tmp_path, forest, edit, field):
    folder = forest.save(tmp_path / "model")
    _edit_config(folder, edit)
    with pytest.raises(ValueError, match=re.escape(f"detector.json: field {field!r}")):
        TabularAnomalyDetector.load(folder)


@pytest.mark.parametrize("edit, field", [
    (_set("feature_error_scale_", value=[1.0]), "feature_error_scale_"),
    (_set("history_", "loss", value=[0.5, float("nan")]), "history_"),
    (_set("preprocessor", "numeric", "center", value=[1.0]), "preprocessor.numeric.center"),
    (_set("preprocessor", "categories", value=[["a", "a"]]), "preprocessor.categories"),
    (_set("preprocessor", "boolean", "statistics", value=[]),
     "preprocessor.boolean.statistics"),
])
def test_a_tampered_autoencoder_save_is_refused_naming_the_field(tmp_path, autoencoder,
                                                                 edit, field):
    folder = autoencoder.save(tmp_path / "model")
    _edit_config(folder, edit)
    with pytest.raises(ValueError, match=re.escape(f"detector.json: field {field!r}")):
        TabularAnomalyDetector.load(folder)


def test_detector_json_that_is_not_json_is_refused(tmp_path, forest):
    folder = forest.save(tmp_path / "model")
    (folder / "detector.json").write_text('{"format": "fusionlab.tabular.Tabular')
    with pytest.raises(ValueError, match=r"detector\.json is not valid JSON"):
        TabularAnomalyDetector.load(folder)
    (folder / "detector.json").write_bytes(b"\xff\xfe{}")
    with pytest.raises(ValueError, match=r"detector\.json is not UTF-8"):
        TabularAnomalyDetector.load(folder)
    (folder / "detector.json").write_text("[1, 2]")
    with pytest.raises(ValueError, match="JSON object"):
        TabularAnomalyDetector.load(folder)


def _rewrite_npz(path, change):
    with np.load(path, allow_pickle=False) as data:
        arrays = {name: data[name] for name in data.files}
    change(arrays)
    np.savez(path, allow_pickle=False, **arrays)


@pytest.mark.parametrize("change, match", [
    (lambda a: a.update(threshold=a["threshold"][:-1]), "array 'threshold'"),
    (lambda a: a["threshold"].__setitem__(0, np.nan), "array 'threshold'"),
    (lambda a: a["children_left"].__setitem__(0, 0), "array 'children_left'"),
    (lambda a: a["feature"].__setitem__(0, 99), "array 'feature'"),
    (lambda a: a.update(n_features=np.asarray(3)), "estimators_features|3 features"),
    (lambda a: a.update(node_offsets=a["node_offsets"][::-1].copy()), "array 'node_offsets'"),
    (lambda a: a.update(threshold=a["threshold"].astype("U8")), "array 'threshold'"),
    (lambda a: a.pop("constant_values"), "constant_values"),
    (lambda a: a.update(extra=np.zeros(2)), "extra"),
])
def test_tampered_forest_arrays_are_refused(tmp_path, forest, change, match):
    folder = forest.save(tmp_path / "model")
    model = folder / json.loads((folder / "detector.json").read_text())["files"]["model"]
    _rewrite_npz(model, change)
    with pytest.raises(ValueError, match=match):
        TabularAnomalyDetector.load(folder)


def test_corrupt_zip_members_are_refused(tmp_path, forest, autoencoder):
    for detector in (forest, autoencoder):
        folder = detector.save(tmp_path / detector.method_)
        model = folder / json.loads((folder / "detector.json").read_text())["files"]["model"]
        with zipfile.ZipFile(model) as archive:
            info = max(archive.infolist(), key=lambda i: i.compress_size)
        data = bytearray(model.read_bytes())
        start = info.header_offset + 30 + len(info.filename) + len(info.extra)
        for i in range(start + 10, start + min(info.compress_size, 200)):
            data[i] ^= 0x5A  # bad deflate data, or a bad CRC
        model.write_bytes(bytes(data))
        with pytest.raises(ValueError, match=re.escape(model.name)):
            TabularAnomalyDetector.load(folder)


def test_files_of_two_saves_cannot_be_mixed(tmp_path, frame, forest):
    other = TabularAnomalyDetector(**{**FOREST, "random_state": 5}).fit(frame)
    a, b = forest.save(tmp_path / "a"), other.save(tmp_path / "b")
    name_a = json.loads((a / "detector.json").read_text())["files"]["model"]
    name_b = json.loads((b / "detector.json").read_text())["files"]["model"]
    (a / name_a).write_bytes((b / name_b).read_bytes())
    with pytest.raises(ValueError, match="state_digest.*changed or mixed"):
        TabularAnomalyDetector.load(a)


def test_bad_training_scores_are_refused(tmp_path, forest):
    folder = forest.save(tmp_path / "model")
    scores = folder / json.loads((folder / "detector.json").read_text())["files"]["training_scores"]
    np.save(scores, np.array([0.5, np.nan]))
    with pytest.raises(ValueError, match=r"finite training scores"):
        TabularAnomalyDetector.load(folder)
    scores.unlink()
    with pytest.raises(ValueError, match=r"training_scores\.[0-9a-f]+\.npy is missing"):
        TabularAnomalyDetector.load(folder)


# -- item 4: no data loss ----------------------------------------------------------------
def _half_write_then_fail(path, *args, **kwargs):
    Path(path).write_bytes(b"PK\x03\x04 half a file")
    raise OSError(28, "No space left on device")


@pytest.mark.parametrize("where", ["model", "scores", "config"])
def test_a_failed_re_save_keeps_the_old_forest_loadable(tmp_path, frame, forest, monkeypatch,
                                                        where):
    folder = forest.save(tmp_path / "model")
    before = sorted(p.name for p in folder.iterdir())
    other = TabularAnomalyDetector(**{**FOREST, "random_state": 9}).fit(frame)
    if where == "model":
        monkeypatch.setattr(isolation_trees.IsolationTrees, "save",
                            lambda self, file: _half_write_then_fail(file))
    elif where == "scores":
        monkeypatch.setattr(np, "save", _half_write_then_fail)
    else:
        def no_rename(src, dst):
            raise OSError(5, "Input/output error")
        monkeypatch.setattr(os, "replace", no_rename)
    with pytest.raises(OSError):
        other.save(folder)
    monkeypatch.undo()
    loaded = TabularAnomalyDetector.load(folder)
    assert loaded.model_id_ == forest.model_id_
    np.testing.assert_array_equal(loaded.score_samples(frame), forest.score_samples(frame))
    assert sorted(p.name for p in folder.iterdir()) == before  # nothing half-written left
    other.save(folder)  # a save that succeeds replaces it, and leaves one set of files
    assert TabularAnomalyDetector.load(folder).model_id_ == other.model_id_
    assert len(list(folder.iterdir())) == 3


def test_a_failed_re_save_keeps_the_old_autoencoder_loadable(tmp_path, frame, autoencoder,
                                                             forest, monkeypatch):
    import keras

    folder = autoencoder.save(tmp_path / "model")
    monkeypatch.setattr(keras.Model, "save",
                        lambda self, file, *a, **k: _half_write_then_fail(file))
    autoencoder_again = TabularAnomalyDetector(**{**SMALL_AE, "random_state": 1}).fit(frame)
    with pytest.raises(OSError):
        autoencoder_again.save(folder)
    monkeypatch.undo()
    loaded = TabularAnomalyDetector.load(folder)
    assert loaded.model_id_ == autoencoder.model_id_
    np.testing.assert_array_equal(loaded.score_samples(frame), autoencoder.score_samples(frame))
    # Replaced by a forest: the autoencoder's files go.
    forest.save(folder)
    assert not list(folder.glob("*.keras"))
    assert TabularAnomalyDetector.load(folder).method_ == "isolation_forest"


def test_a_killed_save_leaves_the_old_detector_and_a_stray_file(tmp_path, frame, forest):
    folder = forest.save(tmp_path / "model")
    (folder / "notes.txt").write_text("the user's own file")
    # What a save killed before its rename leaves: a new model file nobody names.
    stray = folder / "isolation_forest.0123456789abcdef.npz"
    stray.write_bytes(b"PK\x03\x04 cut")
    assert TabularAnomalyDetector.load(folder).model_id_ == forest.model_id_
    forest.save(folder)
    assert not stray.exists() and (folder / "notes.txt").is_file()


def test_excel_does_not_retrain_over_a_broken_detector(tmp_path, frame, forest):
    folder = forest.save(tmp_path / "model")
    (folder / "detector.json").unlink()  # a save interrupted by an older fusionlab
    before = sorted(p.name for p in folder.iterdir())
    with pytest.raises(ValueError, match=r"holds files of a saved detector.*no detector\.json"
                                         r".*not retrained"):
        detect_anomalies_in_excel(frame, model_path=folder, **FOREST)
    assert sorted(p.name for p in folder.iterdir()) == before
    with pytest.raises(ValueError, match="not retrained"):
        detect_anomalies_in_excel(frame, model_path=folder, train_if_needed=False)
    broken = forest.save(tmp_path / "broken")
    _edit_config(broken, _set("threshold_", value=float("nan")))
    with pytest.raises(ValueError, match=r"threshold_.*cannot be loaded.*not retrained"):
        detect_anomalies_in_excel(frame, model_path=broken, **FOREST)
    assert json.loads((broken / "detector.json").read_text(),
                      parse_constant=str)["threshold_"] == "NaN"


def test_excel_trains_into_a_folder_of_other_files(tmp_path, frame):
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "readme.txt").write_text("kept")
    anomalies, det = detect_anomalies_in_excel(frame, model_path=folder, **FOREST)
    assert (folder / "readme.txt").read_text() == "kept"
    assert TabularAnomalyDetector.load(folder).model_id_ == det.model_id_


# -- item 7: complex numbers ----------------------------------------------------------
@pytest.mark.parametrize("make", [
    lambda x: x + 1j,                                     # complex128 dtype
    lambda x: pd.Series(list(x + 2j), dtype=object),      # Python complex objects
])
def test_complex_numbers_are_refused_naming_the_column(frame, forest, make):
    df = frame.assign(amount=make(frame["amount"].to_numpy()))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "discards the imaginary part" warning first
        with pytest.raises(TypeError, match=r"'amount'.*complex"):
            TabularAnomalyDetector(**FOREST).fit(df)
        with pytest.raises(TypeError, match=r"'amount'.*complex"):
            infer_column_types(df)
        with pytest.raises(TypeError, match=r"'amount'.*complex"):
            forest.score_samples(df)
        with pytest.raises(TypeError, match=r"'amount'.*complex"):
            TabularAnomalyDetector(**FOREST, column_types={"amount": "numeric"}).fit(df)


# -- item 12: bytes columns ---------------------------------------------------------------
@pytest.mark.parametrize("cells", [[b"\xff\xfe", b"ok"], [b"a", b"b"]])
def test_a_bytes_column_is_refused_naming_the_column(frame, forest, cells):
    df = frame.assign(shop=(cells * len(frame))[: len(frame)])
    with pytest.raises(TypeError, match=r"'shop' holds bytes.*decode"):
        TabularAnomalyDetector(**FOREST).fit(df)
    with pytest.raises(TypeError, match=r"'shop' holds bytes"):
        forest.score_samples(df)
    with pytest.raises(TypeError, match=r"'shop' holds bytes"):
        TabularAnomalyDetector(**FOREST, column_types={"shop": "numeric"}).fit(df)
