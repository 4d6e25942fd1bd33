"""Tests of ``fusionlab.nn.utils.create_sequences``."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.lib.array_utils import byte_bounds

from fusionlab.nn.utils import create_sequences


def reference(values, sequence_length, target, step, include_overlap, drop_last,
              horizon):
    """Plain loop over window starts, written straight from the spec."""
    n_rows = len(values)
    max_h = 1 if horizon is None else horizon
    stride = step if include_overlap else max(step, sequence_length)
    starts = []
    start = 0
    while start + sequence_length + max_h <= n_rows:
        starts.append(start)
        start += stride
    if not drop_last and starts and starts[-1] + sequence_length + max_h < n_rows:
        starts.append(n_rows - sequence_length - max_h)
    sequences, targets = [], []
    for s in starts:
        end = s + sequence_length
        sequences.append(values[s:end])
        if horizon is None:
            targets.append(values[end, target])
        else:
            targets.append(values[end : end + horizon, target])
    return starts, sequences, targets


case = st.fixed_dictionaries(
    {
        "n_rows": st.integers(1, 60),
        "n_cols": st.integers(1, 4),
        "sequence_length": st.integers(1, 15),
        "step": st.integers(1, 9),
        "horizon": st.one_of(st.none(), st.integers(0, 4)),
        "drop_last": st.booleans(),
        "include_overlap": st.booleans(),
        "as_frame": st.booleans(),
        "seed": st.integers(0, 2**16),
    }
)


def _make_input(c):
    rng = np.random.default_rng(c["seed"])
    values = rng.standard_normal((c["n_rows"], c["n_cols"]))
    target = int(rng.integers(c["n_cols"]))
    if c["as_frame"]:
        columns = [f"col{i}" for i in range(c["n_cols"])]
        return values, target, pd.DataFrame(values, columns=columns), columns[target]
    return values, target, values, target


def _max_h(c):
    """Rows each window needs after it: the horizon, 1 when it is None."""
    return 1 if c["horizon"] is None else c["horizon"]


def _too_short(c):
    """The case has fewer rows than one window and its targets."""
    return c["n_rows"] < c["sequence_length"] + _max_h(c)


def _call(data, c, target_col, **kwargs):
    return create_sequences(
        data,
        c["sequence_length"],
        target_col,
        step=c["step"],
        include_overlap=c["include_overlap"],
        drop_last=c["drop_last"],
        forecast_horizon=c["horizon"],
        **kwargs,
    )


@settings(max_examples=150, deadline=None)
@given(case)
def test_matches_reference_loop(c):
    values, target, data, target_col = _make_input(c)
    if _too_short(c):
        with pytest.raises(ValueError, match=r"must have at least .* rows"):
            _call(data, c, target_col)
        return
    starts, ref_x, ref_y = reference(
        values, c["sequence_length"], target, c["step"], c["include_overlap"],
        c["drop_last"], c["horizon"],
    )
    x, y = _call(data, c, target_col)
    n = len(starts)
    assert x.shape == (n, c["sequence_length"], c["n_cols"])
    if c["horizon"] is None:
        assert y.shape == (n,)
    else:
        assert y.shape == (n, c["horizon"])
    np.testing.assert_array_equal(x, np.array(ref_x))
    np.testing.assert_array_equal(y, np.array(ref_y).reshape(y.shape))
    assert x.flags.c_contiguous and x.flags.writeable
    assert y.flags.c_contiguous and y.flags.writeable
    assert not np.shares_memory(x, values)


@settings(max_examples=150, deadline=None)
@given(case)
def test_window_layout_properties(c):
    # Row numbers as data make each window's start and contents readable.
    max_h = _max_h(c)
    length, n_rows = c["sequence_length"], c["n_rows"]
    if _too_short(c):
        return
    rows = np.repeat(np.arange(n_rows, dtype=float)[:, None], 2, axis=1)
    x, y = create_sequences(
        rows, length, 1, step=c["step"], include_overlap=c["include_overlap"],
        drop_last=c["drop_last"], forecast_horizon=c["horizon"],
    )
    starts = x[:, 0, 0].astype(int)
    # Each window is consecutive rows, and targets follow it directly.
    np.testing.assert_array_equal(x[:, :, 0], starts[:, None] + np.arange(length))
    ends = starts + length
    if c["horizon"] is None:
        np.testing.assert_array_equal(y, ends)
    else:
        np.testing.assert_array_equal(y, ends[:, None] + np.arange(c["horizon"]))
    assert (ends + max_h <= n_rows).all()
    gaps = np.diff(starts)
    regular = gaps if c["drop_last"] else gaps[:-1]
    stride = c["step"] if c["include_overlap"] else max(c["step"], length)
    assert (regular == stride).all()
    if not c["include_overlap"]:
        assert (regular >= length).all()
    if not c["drop_last"]:
        # The last rows are always covered by a window or its targets.
        assert ends[-1] + max_h == n_rows


@settings(max_examples=150, deadline=None)
@given(case)
def test_views_equal_copies(c):
    values, _, data, target_col = _make_input(c)
    if _too_short(c):
        return
    x, y = _call(data, c, target_col)
    stride = c["step"] if c["include_overlap"] else max(c["step"], c["sequence_length"])
    n_regular = (c["n_rows"] - c["sequence_length"] - _max_h(c)) // stride + 1
    if len(x) > n_regular:
        with pytest.raises(ValueError, match=r"`copy=False` cannot return"):
            _call(data, c, target_col, copy=False)
        return
    xv, yv = _call(data, c, target_col, copy=False)
    np.testing.assert_array_equal(xv, x)
    np.testing.assert_array_equal(yv, y)
    assert not xv.flags.writeable and not yv.flags.writeable


def test_400_rows_reconstruction_example():
    df = pd.DataFrame(np.random.default_rng(0).standard_normal((400, 3)),
                      columns=["a", "b", "c"])
    x, y = create_sequences(df, sequence_length=20, target_col="a",
                            forecast_horizon=0, drop_last=False)
    assert x.shape == (381, 20, 3)
    assert y.shape == (381, 0)
    np.testing.assert_array_equal(x[-1], df.to_numpy()[-20:])


def test_drop_last_false_end_aligned_window():
    data = np.arange(10.0)[:, None]
    x, y = create_sequences(data, 3, 0, step=4, drop_last=False)
    np.testing.assert_array_equal(x[:, 0, 0], [0, 4, 6])
    np.testing.assert_array_equal(y, [3, 7, 9])
    x, y = create_sequences(data, 3, 0, step=4, drop_last=False, forecast_horizon=2)
    np.testing.assert_array_equal(x[:, 0, 0], [0, 4, 5])
    np.testing.assert_array_equal(y, [[3, 4], [7, 8], [8, 9]])
    x, y = create_sequences(data, 3, 0, step=4, drop_last=False, forecast_horizon=0)
    np.testing.assert_array_equal(x[:, -1, 0], [2, 6, 9])
    # Nothing uncovered: no extra window even with drop_last=False.
    x, _ = create_sequences(data, 3, 0, step=3, drop_last=False, forecast_horizon=1)
    np.testing.assert_array_equal(x[:, 0, 0], [0, 3, 6])


def test_include_overlap_false_uses_sequence_length_as_stride():
    x, y = create_sequences(np.arange(20.0), 5, 0, step=2, include_overlap=False)
    np.testing.assert_array_equal(x[:, 0, 0], [0, 5, 10])
    np.testing.assert_array_equal(y, [5, 10, 15])


def test_copy_false_views_share_memory_and_are_read_only():
    data = np.arange(40.0).reshape(20, 2)
    x, y = create_sequences(data, 4, 1, step=2, forecast_horizon=3, copy=False)
    assert np.shares_memory(x, data) and np.shares_memory(y, data)
    assert np.shares_memory(x, y)
    assert not x.flags.writeable and not y.flags.writeable
    with pytest.raises(ValueError, match="read-only"):
        x[0, 0, 0] = -1.0
    with pytest.raises(ValueError, match="read-only"):
        y[0, 0] = -1.0
    # Windows take no memory of their own: changes to the input show through.
    assert x.nbytes > data.nbytes
    data[2, 0] = 100.0
    assert x[0, 2, 0] == 100.0 and x[1, 0, 0] == 100.0


def test_copy_false_dataframe_views_one_contiguous_array():
    df = pd.DataFrame({"a": np.arange(30.0), "b": np.arange(30) * 2})
    x, y = create_sequences(df, 5, "b", copy=False)
    assert x.shape == (25, 5, 2) and np.shares_memory(x, y)
    # Both lie inside one block of 30 rows x 2 float64 columns.
    x_lo, x_hi = byte_bounds(x)
    y_lo, y_hi = byte_bounds(y)
    assert max(x_hi, y_hi) - min(x_lo, y_lo) == 30 * 2 * 8
    assert not x.flags.writeable and not y.flags.writeable


def test_copy_true_never_aliases_input():
    # Single-column, length-1 windows are contiguous views: still copied.
    data = np.arange(10.0)[:, None]
    x, y = create_sequences(data, 1, 0)
    assert not np.shares_memory(x, data) and not np.shares_memory(y, data)
    x[0, 0, 0] = -5.0
    assert data[0, 0] == 0.0


@pytest.mark.parametrize(
    ("dtypes", "expected"),
    [
        ({"a": np.float32, "b": np.float32}, np.float32),
        ({"a": np.float64, "b": np.float32}, np.float64),
        ({"a": np.int64, "b": np.int32}, np.float64),
        ({"a": np.float32, "b": np.int8}, np.float64),
        ({"a": bool, "b": np.float16}, np.float64),
        ({"a": np.float16, "b": np.float16}, np.float16),
        ({"a": "Int64", "b": "Float32"}, np.float64),
    ],
)
def test_output_dtype_dataframe(dtypes, expected):
    df = pd.DataFrame({"a": [1, 0, 1, 1, 0, 1], "b": [0, 1, 0, 1, 1, 0]}).astype(dtypes)
    x, y = create_sequences(df, 2, "a", forecast_horizon=2)
    assert x.dtype == expected and y.dtype == expected


@pytest.mark.parametrize(
    ("dtype", "expected"),
    [(np.float32, np.float32), (np.float64, np.float64), (np.int16, np.float64),
     (np.uint8, np.float64), (bool, np.float64)],
)
def test_output_dtype_array(dtype, expected):
    data = (np.arange(12).reshape(6, 2) % 2).astype(dtype)
    x, y = create_sequences(data, 3, 0)
    assert x.dtype == expected and y.dtype == expected
    np.testing.assert_array_equal(x[0], data[:3].astype(expected))


def test_one_dimensional_inputs():
    series = pd.Series(np.arange(8.0), name="load")
    x, y = create_sequences(series, 3, "load", forecast_horizon=1)
    assert x.shape == (5, 3, 1) and y.shape == (5, 1)
    x2, y2 = create_sequences(np.arange(8.0), 3, 0, forecast_horizon=1)
    np.testing.assert_array_equal(x, x2)
    np.testing.assert_array_equal(y, y2)
    x3, _ = create_sequences(pd.Series(np.arange(8.0)), 3, 0)
    assert x3.shape == (5, 3, 1)


def test_negative_array_target_index():
    data = np.arange(30.0).reshape(10, 3)
    _, y = create_sequences(data, 2, -1)
    np.testing.assert_array_equal(y, data[2:, 2])


def test_verbose_prints_one_line_summary(capsys):
    create_sequences(np.zeros((10, 2)), 4, 0, forecast_horizon=2, verbose=1)
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    assert "10 rows x 2 columns -> 5 sequences (5, 4, 2), targets (5, 2)" in out
    create_sequences(np.zeros((10, 2)), 4, 0)
    assert capsys.readouterr().out == ""


# --------------------------------------------------------------- invalid input
FRAME = pd.DataFrame({"a": np.arange(10.0), "b": np.arange(10.0)})


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"sequence_length": 0}, ValueError, r"`sequence_length` must be a positive integer .*received 0"),
        ({"sequence_length": -3}, ValueError, r"`sequence_length` must be a positive"),
        ({"sequence_length": 2.0}, TypeError, r"`sequence_length` must be a positive integer; received 2.0"),
        ({"sequence_length": True}, TypeError, r"`sequence_length` .* received True of type bool"),
        ({"step": 0}, ValueError, r"`step` must be a positive integer"),
        ({"step": False}, TypeError, r"`step` .* type bool"),
        ({"step": "2"}, TypeError, r"`step` .* type str"),
        ({"forecast_horizon": -1}, ValueError, r"`forecast_horizon` must be >= 0; received -1"),
        ({"forecast_horizon": 1.5}, TypeError, r"`forecast_horizon` must be a non-negative integer"),
        ({"forecast_horizon": True}, TypeError, r"`forecast_horizon` .* type bool"),
        ({"include_overlap": "no"}, TypeError, r"`include_overlap` must be a bool .* received 'no'"),
        ({"drop_last": 0}, TypeError, r"`drop_last` must be a bool .* type int"),
        ({"copy": None}, TypeError, r"`copy` must be a bool"),
        ({"verbose": -1}, ValueError, r"`verbose` must be >= 0"),
        ({"verbose": "loud"}, TypeError, r"`verbose` must be a non-negative integer"),
        ({"target_col": "z"}, KeyError, r"`target_col` must name a column of `df`; received 'z', available columns: \['a', 'b'\]"),
        ({"target_col": 0}, KeyError, r"received 0, available columns"),
    ],
)
def test_invalid_arguments(kwargs, error, match):
    args = {"df": FRAME, "sequence_length": 3, "target_col": "a", **kwargs}
    with pytest.raises(error, match=match):
        create_sequences(**args)


def test_rejects_non_finite_values_with_count_and_row():
    data = np.arange(20.0).reshape(10, 2)
    data[4, 1] = np.nan
    data[7, 0] = np.inf
    with pytest.raises(ValueError, match=r"`df` contains 2 NaN or infinite value\(s\) \(first at position \(4, 1\)\)"):
        create_sequences(data, 3, 0)
    df = pd.DataFrame({"a": np.arange(10.0), "b": pd.array([1] * 9 + [None], dtype="Int64")})
    with pytest.raises(ValueError, match=r"contains 1 NaN .*\(9, 1\)"):
        create_sequences(df, 3, "a")


def test_rejects_non_numeric_columns_by_name():
    df = FRAME.assign(label=["x"] * 10, when=pd.date_range("2024", periods=10),
                      z=np.ones(10, dtype=complex))
    with pytest.raises(TypeError, match=r"non-numeric column\(s\): 'label' .*'when' .*'z'"):
        create_sequences(df, 3, "a")
    with pytest.raises(TypeError, match=r"numeric .* received an array of dtype <U1"):
        create_sequences(np.array([["a", "b"]] * 5), 2, 0)
    with pytest.raises(TypeError, match=r"array of dtype object"):
        create_sequences(np.ones((5, 2), dtype=object), 2, 0)


def test_rejects_too_short_data_with_rows_needed():
    with pytest.raises(ValueError, match=r"at least sequence_length \+ 1 = 11 rows .* received 10"):
        create_sequences(FRAME, 10, "a")
    with pytest.raises(ValueError, match=r"sequence_length \+ forecast_horizon = 12 rows .* received 10"):
        create_sequences(FRAME, 8, "a", forecast_horizon=4)
    with pytest.raises(ValueError, match=r"= 1 rows .* received 0"):
        create_sequences(np.empty((0, 2)), 1, 0, forecast_horizon=0)


def test_rejects_bad_array_shapes_types_and_targets():
    with pytest.raises(ValueError, match=r"2D array .* 3 dimension\(s\), shape \(4, 2, 2\)"):
        create_sequences(np.zeros((4, 2, 2)), 2, 0)
    with pytest.raises(ValueError, match=r"0 dimension\(s\)"):
        create_sequences(np.array(1.0), 1, 0)
    with pytest.raises(TypeError, match=r"`df` must be a pandas DataFrame or a 2D numpy array; received an object of type list"):
        create_sequences([[1.0, 2.0]] * 5, 2, 0)
    with pytest.raises(IndexError, match=r"`target_col` must be a column index in \[-2, 1\] .* received 2"):
        create_sequences(np.zeros((5, 2)), 2, 2)
    with pytest.raises(TypeError, match=r"`target_col` must be an integer column index .* received 'a'"):
        create_sequences(np.zeros((5, 2)), 2, "a")
    with pytest.raises(TypeError, match=r"received True of type bool"):
        create_sequences(np.zeros((5, 2)), 2, True)


def test_rejects_duplicated_column_names():
    df = pd.DataFrame(np.zeros((5, 3)), columns=["a", "b", "a"])
    with pytest.raises(ValueError, match=r"unique column names; received duplicated column\(s\) \['a'\]"):
        create_sequences(df, 2, "b")


def test_copy_false_with_end_aligned_window_raises():
    with pytest.raises(ValueError, match=r"`copy=False` cannot return .*step=4, stride=4 leaves 2 row"):
        create_sequences(np.arange(10.0), 3, 0, step=4, drop_last=False, copy=False)
