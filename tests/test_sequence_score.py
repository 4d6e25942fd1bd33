import keras
import numpy as np
import pytest

from fusionlab.nn.anomaly_detection import SequenceAnomalyScoreLayer

from layer_testing import (
    assert_config_round_trip,
    assert_fit_lowers_loss,
    assert_functional_api,
    assert_saved_model_round_trip,
    to_numpy,
)


@pytest.fixture
def features(rng):
    return rng.normal(size=(16, 12)).astype("float32")


@pytest.mark.parametrize("use_norm", [False, True, "layer", "batch", "LAYER"])
def test_shapes_for_every_norm(features, use_norm):
    layer = SequenceAnomalyScoreLayer([8, 4], use_norm=use_norm)
    out = to_numpy(layer(features, training=True))
    assert out.shape == (16, 1) and out.dtype == np.float32


def test_int_hidden_units_stored_as_list():
    assert SequenceAnomalyScoreLayer(5).hidden_units == [5]
    assert SequenceAnomalyScoreLayer((5, 3)).hidden_units == [5, 3]


def test_layer_structure_follows_hidden_units(features):
    layer = SequenceAnomalyScoreLayer([8, 4], use_norm="batch", dropout_rate=0.0)
    layer(features)
    assert [d.units for d in layer.hidden_layers] == [8, 4]
    assert all(isinstance(n, keras.layers.BatchNormalization) for n in layer.norm_layers)
    assert layer.score_dense.units == 1


def test_sigmoid_final_activation_bounds_scores(features):
    layer = SequenceAnomalyScoreLayer(8, final_activation="sigmoid")
    scores = to_numpy(layer(features))
    assert np.all((scores > 0) & (scores < 1))


def test_three_d_input_without_pooling_raises_clearly(rng):
    layer = SequenceAnomalyScoreLayer(8)
    with pytest.raises(ValueError, match="pooling='mean', 'max' or 'last'"):
        layer(rng.normal(size=(4, 10, 3)).astype("float32"))


@pytest.mark.parametrize("pooling", ["mean", "max", "last"])
def test_pooling_reduces_steps(rng, pooling):
    x = rng.normal(size=(4, 10, 3)).astype("float32")
    layer = SequenceAnomalyScoreLayer(8, pooling=pooling, dropout_rate=0.0)
    out = to_numpy(layer(x))
    assert out.shape == (4, 1)
    pooled = {"mean": x.mean(1), "max": x.max(1), "last": x[:, -1]}[pooling]
    np.testing.assert_allclose(out, to_numpy(layer(pooled)), rtol=1e-5, atol=1e-6)


def test_regularizers_add_losses_and_serialise(features):
    layer = SequenceAnomalyScoreLayer(8, kernel_regularizer="l2", bias_regularizer={"class_name": "L1", "config": {"l1": 0.1}})
    layer(features)
    assert len(layer.losses) > 0
    config = layer.get_config()
    clone = SequenceAnomalyScoreLayer.from_config(config)
    assert isinstance(clone.kernel_regularizer, keras.regularizers.L2)
    assert isinstance(clone.bias_regularizer, keras.regularizers.L1)


@pytest.mark.parametrize("kwargs", [{}, {"use_norm": "batch", "pooling": "max"}])
def test_config_round_trip(features, kwargs):
    x = features if "pooling" not in kwargs else np.repeat(features[:, None], 3, axis=1)
    assert_config_round_trip(lambda: SequenceAnomalyScoreLayer([8, 4], **kwargs), x)


def test_keras_file_round_trip(features, tmp_path):
    assert_saved_model_round_trip(
        lambda: SequenceAnomalyScoreLayer([8, 4], use_norm=True, kernel_regularizer="l2"),
        features,
        tmp_path,
    )


def test_functional_api(features):
    model = assert_functional_api(lambda: SequenceAnomalyScoreLayer([8]), features)
    assert model.output.shape == (None, 1)


def test_subclass_can_replace_the_pooling(rng, tmp_path):
    @keras.saving.register_keras_serializable(package="fusionlab_tests")
    class SumPooledScore(SequenceAnomalyScoreLayer):
        def call(self, inputs, training=False):
            return super().call(keras.ops.sum(inputs, axis=1), training=training)

        def validate_input_shape(self, input_shape):
            return super().validate_input_shape((input_shape[0], input_shape[-1]))

    x = rng.normal(size=(4, 5, 3)).astype("float32")
    assert_saved_model_round_trip(lambda: SumPooledScore(4), x, tmp_path)


def test_short_fit_lowers_the_loss(rng):
    x = rng.normal(size=(128, 6)).astype("float32")
    y = (np.abs(x).sum(axis=1, keepdims=True) > 5).astype("float32")
    model = keras.Sequential([keras.Input((6,)), SequenceAnomalyScoreLayer([16], dropout_rate=0.0, final_activation="sigmoid")])
    assert_fit_lowers_loss(model, x, y, loss="binary_crossentropy", epochs=5)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"hidden_units": 0}, ValueError, r"hidden_units\[0\]"),
        ({"hidden_units": [8, -1]}, ValueError, r"hidden_units\[1\]"),
        ({"hidden_units": []}, ValueError, "at least one"),
        ({"hidden_units": "8"}, TypeError, "hidden_units"),
        ({"hidden_units": 8.0}, TypeError, "hidden_units"),
        ({"dropout_rate": 2}, ValueError, "dropout_rate"),
        ({"use_norm": "group"}, ValueError, "use_norm"),
        ({"use_norm": 3}, ValueError, "use_norm"),
        ({"activation": "bogus"}, ValueError, "activation"),
        ({"final_activation": "bogus"}, ValueError, "final_activation"),
        ({"pooling": "median"}, ValueError, "pooling"),
    ],
)
def test_invalid_arguments(kwargs, error, match):
    params = {"hidden_units": 8, **kwargs}
    with pytest.raises(error, match=match):
        SequenceAnomalyScoreLayer(**params)


@pytest.mark.parametrize("shape", [(4,), (2, 3, 4, 5)])
def test_wrong_rank_raises(shape):
    with pytest.raises(ValueError, match=r"\(batch, features\)"):
        SequenceAnomalyScoreLayer(4)(np.zeros(shape, "float32"))


@pytest.mark.parametrize(("shape", "pooling"), [((None,), None), ((None, None), "mean")])
def test_unknown_number_of_features_raises_clearly(shape, pooling):
    # In a Functional model the Dense weights need the feature count.
    with pytest.raises(ValueError, match="number of features"):
        SequenceAnomalyScoreLayer(4, pooling=pooling)(keras.Input(shape))
