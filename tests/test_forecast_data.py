import numpy as np
import pandas as pd
import pytest

from fusionlab.nn.forecast_data import ForecastArrays, make_forecast_arrays


@pytest.fixture
def long_df():
    # Two items of different lengths, rows shuffled; values encode (item, t).
    rows = []
    for item, length, size in (("b", 9, 2.0), ("a", 7, 1.0)):
        for t in range(length):
            base = 100.0 if item == "b" else 0.0
            rows.append({"item": item, "t": t, "y": base + t, "x": base + 10 * t,
                         "promo": base + 1000 * t, "size": size})
    return pd.DataFrame(rows).sample(frac=1.0, random_state=0).reset_index(drop=True)


def test_shapes_values_and_index(long_df):
    out = make_forecast_arrays(long_df, "item", "t", "y", static_cols=["size"],
                               dynamic_cols=["y", "x"], future_cols=["promo"],
                               lookback=3, horizon=2)
    assert isinstance(out, ForecastArrays)
    # item a: 7 - 5 + 1 = 3 windows; item b: 9 - 5 + 1 = 5
    assert out.static.shape == (8, 1) and out.dynamic.shape == (8, 3, 2)
    assert out.future.shape == (8, 2, 1) and out.target.shape == (8, 2)
    assert all(a.dtype == np.float32 for a in out[:4])
    assert out.index["item"].tolist() == ["a"] * 3 + ["b"] * 5
    assert out.index["forecast_start"].tolist() == [3, 4, 5, 3, 4, 5, 6, 7]
    # Sample 4 = item b, window over t = 1, 2, 3, forecasting t = 4, 5.
    np.testing.assert_array_equal(out.dynamic[4, :, 0], [101, 102, 103])
    np.testing.assert_array_equal(out.dynamic[4, :, 1], [110, 120, 130])
    np.testing.assert_array_equal(out.target[4], [104, 105])
    np.testing.assert_array_equal(out.future[4, :, 0], [4100, 5100])
    assert out.static[4, 0] == 2.0 and out.static[0, 0] == 1.0
    # No window spans two items.
    assert np.all(out.dynamic[out.index["item"] == "a"] < 100)


def test_defaults_target_only_and_step(long_df):
    out = make_forecast_arrays(long_df, "item", "t", "y", lookback=2, horizon=3, step=2)
    assert out.static.shape == (out.target.shape[0], 0)
    assert out.future.shape[1:] == (3, 0)
    assert out.dynamic.shape[2] == 1  # dynamic_cols=None -> [target]
    assert out.index["forecast_start"].tolist() == [2, 4, 2, 4, 6]
    np.testing.assert_array_equal(out.dynamic[1, :, 0], [2, 3])
    np.testing.assert_array_equal(out.target[1], [4, 5, 6])


def test_target_not_in_dynamic_is_not_added(long_df):
    out = make_forecast_arrays(long_df, "item", "t", "y", dynamic_cols=["x"],
                               lookback=3, horizon=1)
    assert out.dynamic.shape[2] == 1
    np.testing.assert_array_equal(out.dynamic[0, :, 0], [0, 10, 20])
    np.testing.assert_array_equal(out.target[0], [3])


def test_inputs_and_take(long_df):
    out = make_forecast_arrays(long_df, "item", "t", "y", lookback=3, horizon=2)
    assert [a.shape[0] for a in out.inputs] == [8, 8, 8]
    sub = out.take(out.index["item"] == "b")
    assert len(sub.index) == 5 and sub.target.shape == (5, 2)
    assert sub.index.index.tolist() == list(range(5))
    with pytest.raises(ValueError, match="one value per sample"):
        out.take(np.ones(3, bool))


def test_missing_columns_are_all_named(long_df):
    with pytest.raises(KeyError, match=r"static_cols: \['region'\]; future_cols: \['holiday'\]"):
        make_forecast_arrays(long_df, "item", "t", "y", static_cols=["region"],
                             future_cols=["holiday"], lookback=2, horizon=1)


def test_too_short_items_are_listed(long_df):
    with pytest.raises(ValueError, match=r"lookback \+ horizon = 8 rows; too short: 'a' \(7 rows\)"):
        make_forecast_arrays(long_df, "item", "t", "y", lookback=6, horizon=2)


def test_nan_is_located(long_df):
    df = long_df.copy()
    df.loc[(df["item"] == "b") & (df["t"] == 4), "x"] = np.nan
    with pytest.raises(ValueError, match=r"Column 'x' holds 1 NaN .*item='b', t=4"):
        make_forecast_arrays(df, "item", "t", "y", dynamic_cols=["x"], lookback=2, horizon=1)


def test_other_errors(long_df):
    with pytest.raises(ValueError, match=r"item 'b' has several rows at t=1\."):
        make_forecast_arrays(pd.concat([long_df, long_df.iloc[[0]]]), "item", "t", "y",
                             lookback=2, horizon=1)
    varying = long_df.assign(size=np.arange(len(long_df), dtype=float))
    with pytest.raises(ValueError, match="must be constant within each item"):
        make_forecast_arrays(varying, "item", "t", "y", static_cols=["size"],
                             lookback=2, horizon=1)
    with pytest.raises(TypeError, match="`static_cols` must name numeric columns"):
        make_forecast_arrays(long_df, "item", "t", "y", static_cols=["item"],
                             lookback=2, horizon=1)
    with pytest.raises(ValueError, match="`dynamic_cols` lists column"):
        make_forecast_arrays(long_df, "item", "t", "y", dynamic_cols=["x", "x"],
                             lookback=2, horizon=1)
    with pytest.raises(TypeError, match="`horizon` must be a positive integer"):
        make_forecast_arrays(long_df, "item", "t", "y", lookback=2)
    with pytest.raises(TypeError, match="`df` must be a pandas DataFrame"):
        make_forecast_arrays(long_df.to_numpy(), "item", "t", "y", lookback=2, horizon=1)
