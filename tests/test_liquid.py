"""Liquid cells (CfC, LTC), their layers and the liquid autoencoder."""

import keras
import numpy as np
import pytest

from fusionlab.nn.anomaly_detection import (
    LTC,
    CfC,
    CfCCell,
    LiquidAutoencoderAnomaly,
    LTCCell,
    weighted_reconstruction_error,
)
from fusionlab.nn.liquid import check_time_delta, lecun_tanh

from layer_testing import (
    assert_config_round_trip,
    assert_fit_lowers_loss,
    assert_functional_api,
    assert_saved_model_round_trip,
    to_numpy,
)

SMALL = {"hidden_size": 4, "backbone_units": 8, "backbone_layers": 1, "num_layers": 1}
CELL_TYPES = ["cfc", "ltc"]


def small_model(cell_type="cfc", **kwargs):
    params = {**SMALL, "cell_type": cell_type, "ode_unfolds": 2, **kwargs}
    return LiquidAutoencoderAnomaly(**params)


@pytest.fixture
def x(rng):
    return rng.normal(size=(3, 6, 2)).astype("float32")


@pytest.fixture
def dt(rng):
    return rng.uniform(0.2, 2.0, size=(3, 6, 1)).astype("float32")


def run_cell(cell, x, dt, state):
    """One step of a cell on numpy data; returns (output, new_state)."""
    inputs = np.concatenate([x, dt], axis=-1).astype("float32")
    if not cell.built:
        cell.build(inputs.shape)
    out, new = cell(inputs, [state.astype("float32")])
    return to_numpy(out), to_numpy(new[0])


# ----------------------------------------------------------------- shapes
@pytest.mark.parametrize("cell_type", CELL_TYPES)
@pytest.mark.parametrize("delta_rank", [None, 2, 3])
def test_model_shapes_with_and_without_time_delta(x, dt, cell_type, delta_rank):
    model = small_model(cell_type)
    delta = {None: None, 2: dt[..., 0], 3: dt}[delta_rank]
    out = model(x, time_delta=delta)
    assert tuple(out.shape) == x.shape
    assert to_numpy(out).dtype == np.float32
    assert model.compute_anomaly_score(x, time_delta=delta).shape == (3,)
    assert model.compute_anomaly_score(x, time_delta=delta, reduction=None).shape == (3, 6)


def test_rank2_and_rank3_deltas_and_the_pair_form_agree(x, dt):
    model = small_model("cfc")
    a = to_numpy(model(x, time_delta=dt))
    np.testing.assert_allclose(to_numpy(model(x, time_delta=dt[..., 0])), a, atol=1e-6)
    np.testing.assert_allclose(to_numpy(model([x, dt])), a, atol=1e-6)
    # No delta means a delta of 1 everywhere.
    np.testing.assert_allclose(
        to_numpy(model(x)), to_numpy(model(x, time_delta=np.ones_like(dt))), atol=1e-6
    )
    assert not np.allclose(to_numpy(model(x)), a, atol=1e-4)


@pytest.mark.parametrize("cell_type", CELL_TYPES)
def test_bottleneck_and_deeper_stacks(x, dt, cell_type):
    model = small_model(cell_type, latent_dim=3, num_layers=2, n_features=2)
    assert tuple(model(x, time_delta=dt).shape) == x.shape
    assert model.bottleneck.kernel.shape == (4, 3)
    assert len(model.encoder_layers) == len(model.decoder_layers) == 2


@pytest.mark.parametrize("layer_cls", [CfC, LTC])
def test_layers_return_sequences_and_state(x, dt, layer_cls):
    seq = layer_cls(5)(x, time_delta=dt)
    assert tuple(seq.shape) == (3, 6, 5)
    last, state = layer_cls(5, return_sequences=False, return_state=True)(x, time_delta=dt)
    assert tuple(last.shape) == (3, 5) and tuple(state.shape) == (3, 5)


# ------------------------------------------------------------ weighting math
def test_weighted_error_by_hand():
    x = np.zeros((2, 3, 2), "float32")
    recon = np.zeros((2, 3, 2), "float32")
    recon[0] = [[1, 1], [2, 0], [0, 0]]  # per-step errors 1, 2, 0
    recon[1] = [[0, 2], [0, 0], [2, 2]]  # per-step errors 2, 0, 4
    dt = np.array([[1.0, 0.5, 2.0], [4.0, 4.0, 4.0]], "float32")
    errors = np.array([[1.0, 2.0, 0.0], [2.0, 0.0, 4.0]])

    plain = to_numpy(weighted_reconstruction_error(x, recon, dt, reduction=None, weighting=None))
    np.testing.assert_allclose(plain, errors, rtol=1e-6)
    np.testing.assert_allclose(
        to_numpy(weighted_reconstruction_error(x, recon, dt, weighting=None)), errors.mean(1),
        rtol=1e-6,
    )

    eps = 0.1
    inv = 1.0 / (dt + eps)
    weights = inv / inv.mean(axis=1, keepdims=True)
    per_step = to_numpy(weighted_reconstruction_error(x, recon, dt[..., None], reduction=None,
                                                      eps=eps))
    np.testing.assert_allclose(per_step, errors * weights, rtol=1e-5)
    score = to_numpy(weighted_reconstruction_error(x, recon, dt, eps=eps))
    np.testing.assert_allclose(score, (errors * weights).mean(1), rtol=1e-5)
    # Sequence 0: the dense step (dt=0.5) had error 2 and now weighs most.
    assert weights[0, 1] > 1 > weights[0, 2]
    assert score[0] > errors[0].mean()
    # Equal deltas: weights of exactly 1, the plain error.
    np.testing.assert_allclose(score[1], errors[1].mean(), rtol=1e-6)
    # No deltas: no weighting at all.
    np.testing.assert_allclose(
        to_numpy(weighted_reconstruction_error(x, recon, None)), errors.mean(1), rtol=1e-6
    )


def test_weights_are_normalised_per_sequence():
    # Same relative spacing at two sampling rates: same scores.
    x = np.zeros((2, 4, 1), "float32")
    recon = np.array([1.0, 2.0, 3.0, 4.0], "float32").reshape(1, 4, 1).repeat(2, axis=0)
    dt = np.array([[1.0, 2.0, 1.0, 4.0], [10.0, 20.0, 10.0, 40.0]], "float32")
    score = to_numpy(weighted_reconstruction_error(x, recon, dt, eps=0.0))
    np.testing.assert_allclose(score[0], score[1], rtol=1e-5)


def test_model_score_matches_the_function(x, dt):
    model = small_model("cfc")
    recon = to_numpy(model(x, time_delta=dt))
    expected = to_numpy(weighted_reconstruction_error(x, recon, dt, reduction=None))
    got = model.compute_anomaly_score(x, time_delta=dt, reduction=None)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-6)
    plain = model.compute_anomaly_score(x, time_delta=dt, weighting=None)
    np.testing.assert_allclose(plain, ((x - recon) ** 2).mean(axis=(1, 2)), rtol=1e-4)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"reduction": "sum"}, "reduction"),
        ({"weighting": "delta"}, "weighting"),
        ({"eps": -1.0}, "eps"),
    ],
)
def test_bad_score_options(kwargs, match):
    x = np.zeros((1, 2, 1), "float32")
    with pytest.raises(ValueError, match=match):
        weighted_reconstruction_error(x, x, None, **kwargs)


def test_zero_delta_needs_a_positive_eps():
    x = np.zeros((1, 2, 1), "float32")
    dt = np.array([[0.0, 1.0]], "float32")
    with pytest.raises(ValueError, match="delta of 0.*eps > 0"):
        weighted_reconstruction_error(x, x + 1, dt, eps=0.0)
    score = to_numpy(weighted_reconstruction_error(x, x + 1, dt))
    assert np.isfinite(score).all()


# ----------------------------------------------------------------- cells
def test_cfc_cell_matches_the_closed_form_by_hand(rng):
    cell = CfCCell(3, backbone_units=5, backbone_layers=1)
    x = rng.normal(size=(4, 2)).astype("float32")
    dt = rng.uniform(0, 3, size=(4, 1)).astype("float32")
    h = rng.uniform(-1, 1, size=(4, 3)).astype("float32")
    out, new = run_cell(cell, x, dt, h)

    def dense(layer, z):
        kernel, bias = (to_numpy(w) for w in layer.weights)
        return z @ kernel + bias

    z = lecun_tanh(dense(cell.backbone[0], np.concatenate([x, h], axis=1)))
    z = to_numpy(z)
    ff1, ff2 = np.tanh(dense(cell.ff1, z)), np.tanh(dense(cell.ff2, z))
    gate = 1 / (1 + np.exp(dense(cell.time_a, z) * dt - dense(cell.time_b, z)))
    np.testing.assert_allclose(new, (1 - gate) * ff1 + gate * ff2, atol=1e-5)
    np.testing.assert_allclose(out, new)


def test_cfc_state_is_continuous_in_time_and_bounded(rng):
    cell = CfCCell(4, backbone_units=8)
    x = rng.normal(size=(5, 3)).astype("float32") * 50  # wild inputs
    h = rng.uniform(-1, 1, size=(5, 4))
    _, at_zero = run_cell(cell, x, np.zeros((5, 1)), h)
    _, near_zero = run_cell(cell, x, np.full((5, 1), 1e-5), h)
    np.testing.assert_allclose(near_zero, at_zero, atol=1e-4)
    for delta in (0.0, 1.0, 1e3):
        _, state = run_cell(cell, x, np.full((5, 1), delta), h)
        assert np.all(np.abs(state) <= 1.0)


def test_cfc_long_gap_relaxes_to_the_first_head(rng):
    # As t grows the gate sigma(-a t + b) goes to 0 where a > 0 (and to 1
    # where a < 0): the state forgets the short-time head.
    cell = CfCCell(3, backbone_units=6, backbone_layers=1)
    x = rng.normal(size=(2, 2)).astype("float32")
    h = np.zeros((2, 3))
    run_cell(cell, x, np.ones((2, 1)), h)
    z = to_numpy(lecun_tanh(np.concatenate([x, h], axis=1) @ to_numpy(cell.backbone[0].kernel)
                            + to_numpy(cell.backbone[0].bias)))
    a = z @ to_numpy(cell.time_a.kernel) + to_numpy(cell.time_a.bias)
    ff1 = np.tanh(z @ to_numpy(cell.ff1.kernel) + to_numpy(cell.ff1.bias))
    ff2 = np.tanh(z @ to_numpy(cell.ff2.kernel) + to_numpy(cell.ff2.bias))
    _, state = run_cell(cell, x, np.full((2, 1), 1e4), h)
    np.testing.assert_allclose(state, np.where(a > 0, ff1, ff2), atol=1e-4)


def test_ltc_zero_elapsed_time_keeps_the_state(rng):
    cell = LTCCell(4, ode_unfolds=3)
    x = rng.normal(size=(5, 2)).astype("float32")
    v = rng.uniform(-1, 1, size=(5, 4))
    _, same = run_cell(cell, x, np.zeros((5, 1)), v)
    np.testing.assert_allclose(same, v, atol=1e-6)
    _, small = run_cell(cell, x, np.full((5, 1), 1e-4), v)
    np.testing.assert_allclose(small, v, atol=1e-3)
    _, moved = run_cell(cell, x, np.full((5, 1), 5.0), v)
    assert not np.allclose(moved, v, atol=1e-2)


def test_ltc_state_stays_bounded(rng):
    cell = LTCCell(6, ode_unfolds=4)
    v = rng.uniform(-1, 1, size=(8, 6))
    run_cell(cell, np.zeros((8, 3)), np.ones((8, 1)), v)
    # Make the parameters extreme: the bound must still hold.
    cell.erev.assign(rng.uniform(-3, 3, size=(6, 6)).astype("float32"))
    cell.sensory_erev.assign(rng.uniform(-2, 2, size=(3, 6)).astype("float32"))
    bound = max(
        np.abs(v).max(), np.abs(to_numpy(cell.vleak)).max(),
        np.abs(to_numpy(cell.erev)).max(), np.abs(to_numpy(cell.sensory_erev)).max(),
    )
    state = v
    for step in range(30):
        x = rng.normal(size=(8, 3)) * 100
        dt = rng.choice([0.0, 0.01, 1.0, 1e4], size=(8, 1))
        _, state = run_cell(cell, x, dt, state)
        assert np.all(np.isfinite(state)), step
        assert np.abs(state).max() <= bound + 1e-5
    # A long gap settles the state inside the range of the reversal potentials.
    _, settled = run_cell(cell, np.zeros((8, 3)), np.full((8, 1), 1e4), state)
    assert np.abs(settled).max() <= bound + 1e-5


@pytest.mark.parametrize(
    ("factory", "match"),
    [
        (lambda: CfCCell(0), "units"),
        (lambda: CfCCell(2, backbone_units=0), "backbone_units"),
        (lambda: CfCCell(2, backbone_layers=-1), "backbone_layers"),
        (lambda: CfCCell(2, backbone_activation="nope"), "backbone_activation"),
        (lambda: CfCCell(2, backbone_dropout=1.0), "backbone_dropout"),
        (lambda: LTCCell(2, ode_unfolds=0), "ode_unfolds"),
        (lambda: LTC(2, return_sequences="yes"), "return_sequences"),
    ],
)
def test_bad_cell_arguments(factory, match):
    with pytest.raises((TypeError, ValueError), match=match):
        factory()


def test_cell_needs_a_time_column():
    with pytest.raises(ValueError, match="elapsed time"):
        CfCCell(2).build((None, 1))


# ------------------------------------------------------------ serialisation
@pytest.mark.parametrize("cell_type", CELL_TYPES)
def test_config_round_trip(x, cell_type):
    assert_config_round_trip(lambda: small_model(cell_type, latent_dim=2), x)


@pytest.mark.parametrize("cell_type", CELL_TYPES)
def test_keras_file_round_trip_with_time_delta(x, dt, tmp_path, cell_type):
    loaded = assert_saved_model_round_trip(lambda: small_model(cell_type), [x, dt], tmp_path)
    assert isinstance(loaded, LiquidAutoencoderAnomaly)
    assert loaded.get_config()["cell_type"] == cell_type
    # Keyword form and scores agree after loading too.
    original = small_model(cell_type)
    original([x, dt])
    original.set_weights(loaded.get_weights())
    np.testing.assert_allclose(
        loaded.compute_anomaly_score(x, time_delta=dt),
        original.compute_anomaly_score(x, time_delta=dt), rtol=1e-6,
    )


@pytest.mark.parametrize("layer_cls", [CfC, LTC])
def test_layers_round_trip(x, dt, tmp_path, layer_cls):
    assert_config_round_trip(lambda: layer_cls(3), x)
    xi, di = keras.Input((None, 2)), keras.Input((None, 1))
    model = keras.Model([xi, di], layer_cls(3)(xi, time_delta=di))
    expected = to_numpy(model([x, dt]))
    model.save(tmp_path / "layer.keras")
    loaded = keras.saving.load_model(tmp_path / "layer.keras")
    np.testing.assert_allclose(to_numpy(loaded([x, dt])), expected, atol=1e-6)


def test_functional_api_with_and_without_time_delta(x, dt):
    assert_functional_api(lambda: small_model("cfc"), x)
    assert_functional_api(lambda: small_model("ltc"), [x, dt])
    # Keyword time delta and unknown number of steps.
    xi, di = keras.Input((None, 2)), keras.Input((None,))
    model = keras.Model([xi, di], small_model("cfc")(xi, time_delta=di))
    assert tuple(model([x, dt[..., 0]]).shape) == x.shape
    assert tuple(model([x[:, :4], dt[:, :4, 0]]).shape) == (3, 4, 2)


def test_subclass_round_trips(x, dt, tmp_path):
    @keras.saving.register_keras_serializable(package="fusionlab_tests")
    class ShiftedLiquid(LiquidAutoencoderAnomaly):
        def __init__(self, shift=1.0, **kwargs):
            super().__init__(**kwargs)
            self.shift = shift

        def call(self, inputs, time_delta=None, training=False):
            return super().call(inputs, time_delta=time_delta, training=training) + self.shift

        def get_config(self):
            return {**super().get_config(), "shift": self.shift}

    base = small_model("cfc")
    model = ShiftedLiquid(shift=2.0, **SMALL)
    base(x, time_delta=dt)
    model(x, time_delta=dt)
    model.set_weights(base.get_weights())
    np.testing.assert_allclose(
        to_numpy(model(x, time_delta=dt)), to_numpy(base(x, time_delta=dt)) + 2.0, rtol=1e-5
    )
    model.save(tmp_path / "sub.keras")
    loaded = keras.saving.load_model(tmp_path / "sub.keras")
    assert isinstance(loaded, ShiftedLiquid) and loaded.shift == 2.0
    np.testing.assert_allclose(
        to_numpy(loaded(x, time_delta=dt)), to_numpy(model(x, time_delta=dt)), atol=1e-6
    )


# ------------------------------------------------------------------ training
@pytest.mark.parametrize("cell_type", CELL_TYPES)
def test_short_fit_lowers_the_loss(rng, cell_type):
    dt = rng.uniform(0.5, 1.5, size=(32, 8, 1)).astype("float32")
    t = np.cumsum(dt, axis=1) + rng.uniform(0, 6, size=(32, 1, 1))
    series = np.sin(t).astype("float32")
    model = small_model(cell_type, hidden_size=8)
    assert_fit_lowers_loss(model, [series, dt], series, epochs=3)


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("delta_shape", "match"),
    [
        ((3,), r"\(batch, steps, 1\) or \(batch, steps\)"),
        ((3, 6, 2), r"\(batch, steps, 1\) or \(batch, steps\)"),
        ((3, 6, 1, 1), r"\(batch, steps, 1\) or \(batch, steps\)"),
        ((3, 5, 1), "steps 5 but the inputs have steps 6"),
        ((3, 7), "steps 7 but the inputs have steps 6"),
        ((2, 6, 1), "batch size 2 but the inputs have batch size 3"),
    ],
)
@pytest.mark.parametrize("cell_type", CELL_TYPES)
def test_bad_time_delta_shapes(x, cell_type, delta_shape, match):
    model = small_model(cell_type)
    bad = np.ones(delta_shape, "float32")
    with pytest.raises(ValueError, match=match):
        model(x, time_delta=bad)
    with pytest.raises(ValueError, match=match):
        model.compute_anomaly_score(x, time_delta=bad)


@pytest.mark.parametrize(
    ("value", "match"),
    [(-0.5, r">= 0.*1 negative value\(s\), first -0.5 at position \(1, 2, 0\)"),
     (np.nan, "NaN or infinite"), (np.inf, "NaN or infinite")],
)
def test_negative_or_non_finite_deltas_are_rejected(x, dt, value, match):
    bad = dt.copy()
    bad[1, 2, 0] = value
    model = small_model("ltc")
    with pytest.raises(ValueError, match=match):
        model(x, time_delta=bad)
    with pytest.raises(ValueError, match=match):
        model(x, time_delta=keras.ops.convert_to_tensor(bad))  # eager tensor
    with pytest.raises(ValueError, match=match):
        model.compute_anomaly_score(x, time_delta=bad)
    model.compile(optimizer="adam", loss="mse")
    with pytest.raises(ValueError, match=match):
        model.fit([x, bad], x, epochs=1, verbose=0)
    with pytest.raises(ValueError, match=match):
        model.predict([x, bad], verbose=0)
    with pytest.raises(ValueError, match=match):
        CfC(2)(x, time_delta=bad)


def test_check_time_delta_on_symbolic_tensors_checks_the_shape_only():
    xi = keras.Input((6, 2))
    assert check_time_delta(keras.Input((6, 1)), xi.shape) == (None, 6, 1)
    with pytest.raises(ValueError, match="steps 5"):
        check_time_delta(keras.Input((5, 1)), xi.shape)


def test_input_checks(x):
    model = small_model("cfc", n_features=3)
    with pytest.raises(ValueError, match="2 features but n_features = 3"):
        model(x)
    with pytest.raises(ValueError, match=r"shape \(batch, steps, features\)"):
        small_model()(np.zeros((3, 2), "float32"))
    with pytest.raises(ValueError, match=r"pair \[x, time_delta\]"):
        small_model()([x, x, x])


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"hidden_size": 0}, ValueError, "hidden_size"),
        ({"hidden_size": 2.5}, TypeError, "hidden_size"),
        ({"n_features": 0}, ValueError, "n_features"),
        ({"cell_type": "gru"}, ValueError, "cell_type"),
        ({"num_layers": 0}, ValueError, "num_layers"),
        ({"backbone_units": -1}, ValueError, "backbone_units"),
        ({"backbone_layers": 1.5}, TypeError, "backbone_layers"),
        ({"backbone_activation": "nope"}, ValueError, "backbone_activation"),
        ({"backbone_dropout": 1.0}, ValueError, "backbone_dropout"),
        ({"ode_unfolds": 0}, ValueError, "ode_unfolds"),
        ({"latent_dim": 0}, ValueError, "latent_dim"),
        ({"output_activation": "nope"}, ValueError, "output_activation"),
    ],
)
def test_invalid_hyper_parameters_raise_at_construction(kwargs, error, match):
    with pytest.raises(error, match=match):
        LiquidAutoencoderAnomaly(**{"hidden_size": 4, **kwargs})


def test_cell_type_is_case_insensitive():
    assert LiquidAutoencoderAnomaly(4, cell_type="LTC").cell_type == "ltc"


def test_cfc_draws_one_dropout_mask_per_sequence(x):
    # The layer draws the masks before the step loop (no random state inside
    # it, which JAX requires) and forgets them after the call.
    layer = CfC(4, backbone_units=8, backbone_layers=2, backbone_dropout=0.5)
    layer(x)
    drawn = []
    draw = layer.cell.draw_dropout_masks

    def spy(batch_size, dtype="float32"):
        draw(batch_size, dtype)
        drawn.append([to_numpy(mask) for mask in layer.cell._dropout_masks])

    layer.cell.draw_dropout_masks = spy
    layer(x, training=True)
    assert len(drawn) == 1 and len(drawn[0]) == 2
    for mask in drawn[0]:
        assert mask.shape == (3, 8) and set(np.unique(mask)) <= {0.0, 2.0}
    assert layer.cell._dropout_masks is None
    layer(x)  # inference draws nothing
    assert len(drawn) == 1
    np.testing.assert_array_equal(to_numpy(layer(x)), to_numpy(layer(x)))


def test_cfc_autoencoder_trains_with_backbone_dropout(x):
    model = small_model("cfc", backbone_dropout=0.3)
    model.compile(optimizer="adam", loss="mse")
    history = model.fit(x, x, epochs=2, batch_size=2, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
