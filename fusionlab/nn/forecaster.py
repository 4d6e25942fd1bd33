"""A reference anomaly-aware multi-horizon forecaster built from fusionlab parts."""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from .._validation import check_option, check_positive_int, check_rate, check_real
from .anomaly_detection import PredictionErrorAnomalyScore, SequenceAnomalyScoreLayer
from .losses import AnomalyLoss, QuantileLoss, check_quantiles, median_index

__all__ = ["AnomalyAwareForecaster"]

STRATEGIES = (None, "feature_based", "prediction_based", "from_config")
INPUT_KEYS = ("static", "dynamic", "future")
SCORES_KEY = "anomaly_scores"

# Keys of `anomaly_config` each strategy understands, with their defaults.
_HEAD_DEFAULTS = {
    "hidden_units": [16],
    "activation": "relu",
    "dropout_rate": 0.0,
    "use_norm": False,
    "final_activation": "linear",
    "pooling": "mean",
}
_ERROR_DEFAULTS = {"error_metric": "mae", "aggregation": "mean"}
_CONFIG_KEYS = {
    None: {},
    "feature_based": _HEAD_DEFAULTS,
    "from_config": _HEAD_DEFAULTS,
    "prediction_based": _ERROR_DEFAULTS,
}


def _check_anomaly_config(config, strategy):
    allowed = _CONFIG_KEYS[strategy]
    if config is None:
        return dict(allowed)
    if not isinstance(config, dict):
        raise TypeError(
            "`anomaly_config` must be a dict or None; received "
            f"{type(config).__name__}."
        )
    unknown = sorted(set(config) - set(allowed), key=str)
    if unknown:
        if strategy == "from_config" and SCORES_KEY in unknown:
            raise ValueError(
                "`anomaly_config` does not hold the scores themselves: with "
                "anomaly_detection_strategy='from_config' pass them per sample "
                f"with the inputs (key {SCORES_KEY!r} of a dict input, or a 4th "
                "element of a list input)."
            )
        raise ValueError(
            f"`anomaly_config` has key(s) {unknown} that "
            f"anomaly_detection_strategy={strategy!r} does not use; allowed keys: "
            f"{sorted(allowed) or 'none'}."
        )
    merged = dict(allowed)
    merged.update(config)
    return merged


def _shape_of(value):
    """Static shape as a tuple of ints, with None where a size is unknown."""
    shape = tuple(value.shape) if hasattr(value, "shape") else tuple(np.shape(value))
    return tuple(d if d is None or isinstance(d, (int, np.integer)) else None for d in shape)


@keras.saving.register_keras_serializable(package="fusionlab")
class AnomalyAwareForecaster(keras.Model):
    """Multi-horizon forecaster with an anomaly term in its loss.

    A compact XTFT-style reference model assembled from Keras layers and
    fusionlab's anomaly components. Every stage is a method, so a subclass can
    replace one of them and keep the rest (and ``.keras`` serialisation):

    1. :meth:`embed_static` -- ``Dense(embed_dim, relu)`` turns the static
       features into a static context ``(batch, embed_dim)``.
    2. :meth:`encode_past` -- the static context is repeated over the past
       steps, concatenated with the dynamic past features and encoded by the
       layer :meth:`make_past_encoder` returns (an ``LSTM(lstm_units)``
       returning sequences): ``(batch, T, lstm_units)``.
    3. :meth:`embed_future` -- the known future features plus the static
       context become one query per horizon step, ``(batch, H, lstm_units)``.
    4. :meth:`attend` -- :class:`keras.layers.MultiHeadAttention` from the
       horizon queries over the encoded past, with a residual connection and
       layer normalisation: the learned features ``(batch, H, lstm_units)``.
    5. :meth:`project_outputs` -- a dense layer per step gives point forecasts
       ``(batch, H, output_dim)``, or quantile forecasts
       ``(batch, H, output_dim, Q)``. Quantiles are built as the lowest one
       plus cumulated softplus gaps, so they never cross.
    6. :meth:`score_anomalies` / :meth:`prediction_error_scores` -- anomaly
       scores, according to ``anomaly_detection_strategy``.

    Parameters
    ----------
    forecast_horizon : int
        Number of future steps ``H`` forecast at once; the future input must
        have ``H`` steps.
    output_dim : int, default=1
        Number of target variables ``O``.
    quantiles : sequence of float, optional
        Distinct increasing values in (0, 1). None gives point forecasts.
    embed_dim : int, default=16
        Width of the static context.
    lstm_units : int, default=32
        Width of the past encoder, the queries and the attention output.
    num_heads : int, default=2
        Attention heads; each has key size ``max(1, lstm_units // num_heads)``.
    dropout_rate : float, default=0.1
        Dropout of the attention and of the past encoder's inputs, in [0, 1].
    anomaly_detection_strategy : {None, 'feature_based', 'prediction_based', 'from_config'}
        How anomaly scores are computed and enter the loss; see Notes.
    anomaly_loss_weight : float, default=1.0
        Non-negative weight of the anomaly term.
    anomaly_config : dict, optional
        Options of the strategy's scorer. ``'feature_based'`` and
        ``'from_config'``: keyword arguments of
        ``SequenceAnomalyScoreLayer`` -- ``hidden_units`` (default ``[16]``),
        ``activation``, ``dropout_rate`` (0.0), ``use_norm``,
        ``final_activation``, ``pooling`` (``'mean'``). ``'prediction_based'``:
        ``error_metric`` (``'mae'``/``'mse'``) and ``aggregation``
        (``'mean'``/``'max'``). Unknown keys raise ``ValueError``.
    **kwargs
        Passed to :class:`keras.Model` (``name``...).

    Raises
    ------
    TypeError, ValueError
        At construction, for a bad size, rate, strategy, quantile list or
        ``anomaly_config``; at call time, for an input that is not a list of 3
        (4) arrays or a dict with the expected keys, for arrays of the wrong
        rank, a future input without ``H`` steps, a dynamic input with 0
        past steps or 0 features, batch sizes that differ, or feature counts
        that differ from those the model was built with; ``fit`` and
        ``evaluate`` on 0 samples.

    Notes
    -----
    **Inputs.** A list or tuple ``[static, dynamic, future]`` of arrays of
    shapes ``(batch, S)``, ``(batch, T, D)`` and ``(batch, H, F)``, or a dict
    with keys ``'static'``, ``'dynamic'`` and ``'future'``; with
    ``'from_config'``, a 4th element or key ``'anomaly_scores'``. The feature
    counts ``S``, ``D`` and ``F`` are fixed by the first call (build); the
    number of past steps ``T`` may change from call to call. ``S`` and ``F``
    may be 0 (no static or no known-future features, as
    :func:`~fusionlab.nn.forecast_data.make_forecast_arrays` returns them);
    ``T`` and ``D`` may not. A batch of 0 samples gives empty results:
    ``model(x)`` and ``predict`` a ``(0, H, O[, Q])`` array,
    :meth:`anomaly_scores` a ``(0,)`` one.

    **Targets.** ``(batch, H, O)``, or ``(batch, H)`` when ``O == 1``.

    **Anomaly strategies.**

    ``None``
        Plain forecaster; the loss is the compiled loss only.
    ``'feature_based'``
        A :class:`~fusionlab.nn.anomaly_detection.SequenceAnomalyScoreLayer`
        (mean-pooled over the horizon) scores the attention features. The
        term ``AnomalyLoss(anomaly_loss_weight)(scores)`` --
        ``weight * mean(score ** 2)`` -- is added with ``self.add_loss`` in
        :meth:`call`: a compactness penalty that keeps the features of
        ordinary samples near a common region, so that unusual inputs stand
        out. The penalty alone can be met by a head that outputs zero for
        everything, so read these scores as a learned feature distance, not
        a calibrated probability.
    ``'prediction_based'``
        :class:`~fusionlab.nn.anomaly_detection.PredictionErrorAnomalyScore`
        compares the point forecast (the median quantile) with the targets;
        :meth:`compute_loss` adds ``AnomalyLoss(anomaly_loss_weight)`` of
        those scores to the compiled loss, which emphasises the samples the
        model forecasts worst. At inference the scores need the observed
        targets: ``anomaly_scores(inputs, y)``.
    ``'from_config'``
        Scores computed outside the model (by another detector, a rule, a
        label) are passed *per sample with the inputs* -- key
        ``'anomaly_scores'`` of a dict input or a 4th element of a list --
        shape ``(batch,)`` or ``(batch, 1)``. A scoring head like the
        feature-based one learns to reproduce them: the term is
        ``AnomalyLoss(anomaly_loss_weight)(head_scores - given_scores)``.
        The features thus have to carry what the external detector saw, and
        after training the model scores new samples without it. The scores
        travel with the inputs (not inside ``anomaly_config``) because they
        must stay aligned with the samples of each shuffled batch, and so
        that the saved config does not hold a data set. They are required
        when training (``training=True``); at evaluation the term is added
        when they are given; predictions never need them.

    The anomaly term is part of the loss reported by ``fit`` and
    ``evaluate`` (``loss``/``val_loss``); compare forecast quality across
    strategies with the forecast loss alone.

    Examples
    --------
    >>> import numpy as np
    >>> from fusionlab.nn import AnomalyAwareForecaster
    >>> rng = np.random.default_rng(0)
    >>> x = [rng.normal(size=(8, 2)), rng.normal(size=(8, 12, 3)),
    ...      rng.normal(size=(8, 4, 2))]
    >>> y = rng.normal(size=(8, 4, 1))
    >>> model = AnomalyAwareForecaster(forecast_horizon=4, quantiles=(0.1, 0.5, 0.9),
    ...                                anomaly_detection_strategy="prediction_based")
    >>> model.compile(optimizer="adam")      # default loss: QuantileLoss
    >>> history = model.fit(x, y, epochs=1, verbose=0)
    >>> tuple(model.predict(x, verbose=0).shape)
    (8, 4, 1, 3)
    >>> model.anomaly_scores(x, y).shape
    (8,)
    """

    def __init__(
        self,
        forecast_horizon,
        output_dim=1,
        quantiles=None,
        embed_dim=16,
        lstm_units=32,
        num_heads=2,
        dropout_rate=0.1,
        anomaly_detection_strategy=None,
        anomaly_loss_weight=1.0,
        anomaly_config=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.forecast_horizon = check_positive_int(forecast_horizon, "forecast_horizon")
        self.output_dim = check_positive_int(output_dim, "output_dim")
        self.quantiles = check_quantiles(quantiles, allow_none=True)
        self.embed_dim = check_positive_int(embed_dim, "embed_dim")
        self.lstm_units = check_positive_int(lstm_units, "lstm_units")
        self.num_heads = check_positive_int(num_heads, "num_heads")
        self.dropout_rate = check_rate(dropout_rate, "dropout_rate")
        self.anomaly_detection_strategy = check_option(
            anomaly_detection_strategy, "anomaly_detection_strategy", STRATEGIES
        )
        self.anomaly_loss_weight = check_real(
            anomaly_loss_weight, "anomaly_loss_weight", low=0.0
        )
        self.anomaly_config = _check_anomaly_config(
            anomaly_config, self.anomaly_detection_strategy
        )
        self._input_dims = None

        self.static_embedding = keras.layers.Dense(
            self.embed_dim, activation="relu", name="static_embedding"
        )
        self.past_encoder = self.make_past_encoder()
        self.future_embedding = keras.layers.Dense(self.lstm_units, name="future_embedding")
        self.attention = keras.layers.MultiHeadAttention(
            num_heads=self.num_heads,
            key_dim=max(1, self.lstm_units // self.num_heads),
            dropout=self.dropout_rate,
            name="horizon_attention",
        )
        self.attention_dropout = keras.layers.Dropout(self.dropout_rate, name="attention_dropout")
        self.attention_norm = keras.layers.LayerNormalization(name="attention_norm")
        n_quantiles = 1 if self.quantiles is None else len(self.quantiles)
        self.output_projection = keras.layers.Dense(
            self.output_dim * n_quantiles, name="output_projection"
        )

        strategy = self.anomaly_detection_strategy
        self.score_head = None
        self.prediction_error = None
        if strategy in ("feature_based", "from_config"):
            self.score_head = self.make_score_head()
        if strategy == "prediction_based":
            self.prediction_error = PredictionErrorAnomalyScore(
                self.anomaly_config["error_metric"],
                self.anomaly_config["aggregation"],
                name="prediction_error_score",
            )
        self.anomaly_loss = None
        if strategy is not None:
            self.anomaly_loss = AnomalyLoss(self.anomaly_loss_weight, name="anomaly_loss")

    # ------------------------------------------------------------- factories
    def make_past_encoder(self):
        """Return the layer that :meth:`encode_past` runs over the past steps.

        It receives ``(batch, T, D + embed_dim)`` and must return
        ``(batch, T, lstm_units)``. Override it to swap the LSTM for another
        sequence layer.
        """
        return keras.layers.LSTM(
            self.lstm_units,
            return_sequences=True,
            dropout=self.dropout_rate,
            name="past_encoder",
        )

    def make_score_head(self):
        """Return the scoring head of the 'feature_based'/'from_config' strategies."""
        return SequenceAnomalyScoreLayer(name="anomaly_score_head", **self.anomaly_config)

    # ----------------------------------------------------------------- inputs
    def split_inputs(self, inputs):
        """Return ``(static, dynamic, future, given_scores)`` from a list or dict.

        ``given_scores`` is None unless the strategy is 'from_config' and the
        scores were passed.
        """
        from_config = self.anomaly_detection_strategy == "from_config"
        if isinstance(inputs, dict):
            allowed = set(INPUT_KEYS) | ({SCORES_KEY} if from_config else set())
            missing = [k for k in INPUT_KEYS if k not in inputs]
            unknown = sorted(set(inputs) - allowed, key=str)
            if missing or unknown:
                raise ValueError(
                    "A dict input must have the keys 'static', 'dynamic' and 'future'"
                    + (f" (and optionally {SCORES_KEY!r})" if from_config else "")
                    + f"; missing {missing}, unknown {unknown}."
                    + (
                        f" Key {SCORES_KEY!r} is only used with "
                        "anomaly_detection_strategy='from_config'."
                        if SCORES_KEY in unknown
                        else ""
                    )
                )
            parts = [inputs[k] for k in INPUT_KEYS]
            parts.append(inputs.get(SCORES_KEY))
        elif isinstance(inputs, (list, tuple)):
            sizes = (3, 4) if from_config else (3,)
            if len(inputs) not in sizes:
                expected = (
                    "[static, dynamic, future] or [static, dynamic, future, "
                    "anomaly_scores]"
                    if from_config
                    else "[static, dynamic, future]"
                )
                raise ValueError(
                    f"Inputs must be a list or tuple {expected}; received a "
                    f"{type(inputs).__name__} of length {len(inputs)}."
                )
            parts = list(inputs) + [None] * (4 - len(inputs))
        else:
            raise TypeError(
                "Inputs must be a list/tuple [static, dynamic, future] or a dict "
                "with keys 'static', 'dynamic', 'future'; received a "
                f"{type(inputs).__name__}."
            )
        static, dynamic, future, scores = parts
        self._check_shapes(
            _shape_of(static), _shape_of(dynamic), _shape_of(future),
            None if scores is None else _shape_of(scores),
        )
        return static, dynamic, future, scores

    def __call__(self, inputs, *args, **kwargs):
        # Checked before Keras wraps call() errors, so the message the user
        # sees starts with what went wrong.
        parts = self.split_inputs(inputs)[:3]
        if self._empty_batch(parts) and not any(
                keras.backend.is_keras_tensor(p) for p in parts):
            # The LSTM kernels fail on 0 samples: build as a call would, run none.
            if not self.built:
                self.build([(None, *_shape_of(p)[1:]) for p in parts])
            return ops.zeros(self._output_shape(0), dtype=self.compute_dtype)
        return super().__call__(inputs, *args, **kwargs)

    @staticmethod
    def _empty_batch(parts):
        """Whether the ``[static, dynamic, future]`` arrays hold 0 samples."""
        return all(hasattr(p, "shape") or isinstance(p, (list, tuple)) for p in parts) and (
            _shape_of(parts[0])[0] == 0)

    def _output_shape(self, batch):
        shape = (batch, self.forecast_horizon, self.output_dim)
        return shape if self.quantiles is None else (*shape, len(self.quantiles))

    def _readable_parts(self, x):
        # Only lists and dicts of arrays can be read; datasets pass unchecked.
        if isinstance(x, (list, tuple, dict)):
            return self.split_inputs(x)[:3]
        return None

    def _refuse_empty(self, x, method):
        parts = self._readable_parts(x)
        if parts is not None and self._empty_batch(parts):
            raise ValueError(
                f"AnomalyAwareForecaster.{method} received 0 samples (input shapes "
                f"{[_shape_of(p) for p in parts]}); there is nothing to "
                f"{'train' if method == 'fit' else 'evaluate'} on. Predicting or "
                "scoring 0 samples is fine: it gives an empty result."
            )

    def fit(self, x=None, y=None, *args, **kwargs):
        self._refuse_empty(x, "fit")
        return super().fit(x, y, *args, **kwargs)

    def evaluate(self, x=None, y=None, *args, **kwargs):
        self._refuse_empty(x, "evaluate")
        return super().evaluate(x, y, *args, **kwargs)

    def predict(self, x, *args, **kwargs):
        parts = self._readable_parts(x)
        if parts is not None and self._empty_batch(parts):
            # Keras' predict loop has no batch to run on 0 samples.
            return np.zeros(self._output_shape(0), dtype=self.compute_dtype)
        return super().predict(x, *args, **kwargs)

    def _check_shapes(self, static, dynamic, future, scores=None):
        for name, shape, rank, layout in (
            ("static", static, 2, "(batch, static_features)"),
            ("dynamic", dynamic, 3, "(batch, past_steps, dynamic_features)"),
            ("future", future, 3, "(batch, horizon, future_features)"),
        ):
            if len(shape) != rank:
                raise ValueError(
                    f"The `{name}` input must be {rank}D {layout}; received shape "
                    f"{shape}."
                )
        for axis, what in ((1, "past step"), (2, "feature")):
            if dynamic[axis] == 0:
                raise ValueError(
                    f"The `dynamic` input must have at least one {what}; received "
                    f"shape {dynamic}."
                )
        if future[1] is not None and future[1] != self.forecast_horizon:
            raise ValueError(
                f"The `future` input must have forecast_horizon = "
                f"{self.forecast_horizon} steps; received shape {future}."
            )
        batches = {s[0] for s in (static, dynamic, future) if s[0] is not None}
        if scores is not None:
            if len(scores) not in (1, 2) or (len(scores) == 2 and scores[1] != 1):
                raise ValueError(
                    f"`{SCORES_KEY}` must have shape (batch,) or (batch, 1); "
                    f"received shape {scores}."
                )
            if scores[0] is not None:
                batches.add(scores[0])
        if len(batches) > 1:
            raise ValueError(
                "All inputs must have the same batch size; received static "
                f"{static}, dynamic {dynamic}, future {future}"
                + (f", {SCORES_KEY} {scores}" if scores is not None else "")
                + "."
            )
        dims = (static[-1], dynamic[-1], future[-1])
        if self._input_dims is not None:
            for name, got, expected in zip(INPUT_KEYS, dims, self._input_dims, strict=True):
                if got is not None and got != expected:
                    raise ValueError(
                        f"The `{name}` input has {got} features but the model was "
                        f"built with {expected}; received shape "
                        f"{ {'static': static, 'dynamic': dynamic, 'future': future}[name] }."
                    )
        return dims

    # ------------------------------------------------------------------ build
    def build(self, input_shape):
        if isinstance(input_shape, dict):
            shapes = [input_shape.get(k) for k in INPUT_KEYS]
            if any(s is None for s in shapes):
                raise ValueError(
                    "A dict input must have the keys 'static', 'dynamic' and "
                    f"'future'; received keys {sorted(input_shape)}."
                )
            scores = input_shape.get(SCORES_KEY)
        elif isinstance(input_shape, (list, tuple)) and input_shape and isinstance(
            input_shape[0], (list, tuple)
        ):
            shapes = list(input_shape[:3])
            scores = input_shape[3] if len(input_shape) > 3 else None
            if len(input_shape) not in (3, 4):
                raise ValueError(
                    "Inputs must be a list [static, dynamic, future]; received "
                    f"{len(input_shape)} inputs of shapes {input_shape}."
                )
        else:
            raise ValueError(
                "Inputs must be a list [static, dynamic, future] or a dict with "
                f"those keys; received a single input of shape {input_shape}."
            )
        shapes = [tuple(s) for s in shapes]
        dims = self._check_shapes(*shapes, None if scores is None else tuple(scores))
        if None in dims:
            raise ValueError(
                "The number of features of every input must be known; received "
                f"shapes {shapes}."
            )
        # Build every sub-layer by running the forward pass on symbolic
        # tensors, so that a subclass overriding a stage is built the same way.
        self._build_forward(*(keras.KerasTensor(s) for s in shapes))
        self._input_dims = dims
        self.built = True

    def _build_forward(self, static, dynamic, future):
        outputs, features = self.forward(static, dynamic, future, training=False)
        if self.score_head is not None:
            self.score_anomalies(features, training=False)
        return outputs

    # ----------------------------------------------------------------- stages
    def embed_static(self, static, training=False):
        """Static features ``(batch, S)`` -> static context ``(batch, embed_dim)``.

        Without static features (``S == 0``) the context is learned as a
        constant: the dense layer reads one column of ones.
        """
        if static.shape[-1] == 0:
            # A dense layer over zero inputs is undefined on some backends
            # (oneDNN aborts); a constant column gives the same model.
            static = ops.ones_like(ops.sum(static, axis=-1, keepdims=True))
        return self.static_embedding(static)

    @staticmethod
    def _repeat_context(context, like):
        # Broadcasting against the steps axis also works when it is unknown;
        # the sum keeps one column even when `like` has no features.
        steps = ops.sum(ops.zeros_like(like), axis=-1, keepdims=True)
        return ops.expand_dims(context, 1) + steps

    def encode_past(self, dynamic, static_context, training=False):
        """Past features ``(batch, T, D)`` -> encoded past ``(batch, T, lstm_units)``."""
        x = ops.concatenate([dynamic, self._repeat_context(static_context, dynamic)], axis=-1)
        return self.past_encoder(x, training=training)

    def embed_future(self, future, static_context, training=False):
        """Future features ``(batch, H, F)`` -> queries ``(batch, H, lstm_units)``."""
        x = ops.concatenate([future, self._repeat_context(static_context, future)], axis=-1)
        return self.future_embedding(x)

    def attend(self, queries, encoded_past, training=False):
        """Attention from the horizon queries over the encoded past steps.

        Returns the learned features ``(batch, H, lstm_units)``.
        """
        attended = self.attention(
            query=queries, value=encoded_past, key=encoded_past, training=training
        )
        return self.attention_norm(queries + self.attention_dropout(attended, training=training))

    def project_outputs(self, features, training=False):
        """Features ``(batch, H, units)`` -> forecasts ``(batch, H, O[, Q])``."""
        raw = self.output_projection(features)
        if self.quantiles is None:
            return raw
        q = len(self.quantiles)
        raw = ops.reshape(raw, (-1, self.forecast_horizon, self.output_dim, q))
        # Lowest quantile, then non-negative gaps: quantiles cannot cross.
        gaps = ops.softplus(raw[..., 1:])
        return ops.concatenate(
            [raw[..., :1], raw[..., :1] + ops.cumsum(gaps, axis=-1)], axis=-1
        )

    def score_anomalies(self, features, training=False):
        """Learned anomaly score ``(batch, 1)`` of the attention features."""
        if self.score_head is None:
            raise ValueError(
                "score_anomalies needs a scoring head, which only "
                "anomaly_detection_strategy='feature_based' or 'from_config' has; "
                f"this model has {self.anomaly_detection_strategy!r}."
            )
        return self.score_head(features, training=training)

    def point_forecast(self, y_pred):
        """The point forecast ``(batch, H, O)``: the median quantile if any."""
        if self.quantiles is None:
            return y_pred
        return y_pred[..., median_index(self.quantiles)]

    def prediction_error_scores(self, y_true, y_pred):
        """``PredictionErrorAnomalyScore`` of the point forecast, ``(batch, 1)``."""
        scorer = self.prediction_error
        if scorer is None:
            scorer = PredictionErrorAnomalyScore(**_ERROR_DEFAULTS)
        y_true = ops.convert_to_tensor(y_true)
        if len(y_true.shape) == 2:
            y_true = ops.expand_dims(y_true, -1)
        point = self.point_forecast(ops.convert_to_tensor(y_pred))
        return scorer([ops.cast(y_true, point.dtype), point])

    def forward(self, static, dynamic, future, training=False):
        """Run the stages; return ``(forecasts, attention_features)``."""
        context = self.embed_static(static, training=training)
        encoded = self.encode_past(dynamic, context, training=training)
        queries = self.embed_future(future, context, training=training)
        features = self.attend(queries, encoded, training=training)
        return self.project_outputs(features, training=training), features

    # ------------------------------------------------------------------- call
    def call(self, inputs, training=False):
        static, dynamic, future, given = self.split_inputs(inputs)
        static, dynamic, future = (
            ops.cast(ops.convert_to_tensor(t), self.compute_dtype)
            for t in (static, dynamic, future)
        )
        outputs, features = self.forward(static, dynamic, future, training=training)
        strategy = self.anomaly_detection_strategy
        if strategy == "feature_based":
            scores = self.score_anomalies(features, training=training)
            self.add_loss(self.anomaly_loss(scores))
        elif strategy == "from_config":
            scores = self.score_anomalies(features, training=training)
            if given is not None:
                given = ops.reshape(ops.cast(ops.convert_to_tensor(given), scores.dtype), (-1, 1))
                self.add_loss(self.anomaly_loss(scores - given))
            elif training:
                raise ValueError(
                    "anomaly_detection_strategy='from_config' needs the "
                    "pre-computed scores when training: pass them as the 4th "
                    f"input or under key {SCORES_KEY!r} of a dict input."
                )
        return outputs

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """Compiled loss + ``add_loss`` terms + the prediction-based term.

        With 'prediction_based', ``AnomalyLoss(anomaly_loss_weight)`` of
        :meth:`prediction_error_scores` is added; it is a batch mean that
        ``sample_weight`` does not weight (the compiled loss is weighted).
        """
        loss = super().compute_loss(
            x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=training
        )
        if self.anomaly_detection_strategy == "prediction_based" and y is not None:
            scores = self.prediction_error_scores(y, y_pred)
            loss = loss + ops.cast(self.anomaly_loss(scores), loss.dtype)
        return loss

    def compile(self, optimizer="rmsprop", loss=None, **kwargs):
        """Like :meth:`keras.Model.compile`, with a default loss.

        Without ``loss``: :class:`~fusionlab.nn.losses.QuantileLoss` of the
        model's quantiles, or the mean squared error for point forecasts. The
        anomaly term is added by the model itself, whatever the loss.
        """
        if loss is None:
            loss = self.default_loss()
        super().compile(optimizer=optimizer, loss=loss, **kwargs)

    def compile_from_config(self, config):
        # Keras skips compiling on load when `compile` is overridden; ours only
        # fills in a default loss, so the saved settings can be replayed as is.
        if not config:
            return
        config = keras.saving.deserialize_keras_object(config)
        self.compile(**config)
        if hasattr(self, "optimizer") and self.built:
            self.optimizer.build(self.trainable_variables)

    def default_loss(self):
        """The forecast loss used when ``compile`` gets none."""
        if self.quantiles is None:
            return keras.losses.MeanSquaredError()
        return QuantileLoss(self.quantiles)

    # ------------------------------------------------------------- inspection
    def anomaly_scores(self, inputs, y=None, batch_size=256):
        """Anomaly score of every sample, as a NumPy array ``(n_samples,)``.

        Parameters
        ----------
        inputs : list or dict
            As for :meth:`call` (with 'from_config', the given scores are not
            needed: the learned head scores the samples).
        y : array-like, optional
            Observed targets ``(n, H[, O])``. Required for
            'prediction_based' and for a model without strategy, which then
            returns the prediction-error scores (MAE, mean over steps); not
            accepted for 'feature_based'/'from_config', whose scores do not
            use targets.
        batch_size : int, default=256

        Returns
        -------
        numpy.ndarray of shape (n_samples,)
            Larger means more anomalous.
        """
        batch_size = check_positive_int(batch_size, "batch_size")
        static, dynamic, future, _ = self.split_inputs(inputs)
        arrays = [np.asarray(a, dtype="float32") for a in (static, dynamic, future)]
        n = arrays[0].shape[0]
        head = self.score_head is not None
        if head and y is not None:
            raise ValueError(
                f"`y` is not used by anomaly_detection_strategy="
                f"{self.anomaly_detection_strategy!r}, whose scores come from the "
                "inputs alone; call anomaly_scores(inputs) without y."
            )
        if not head:
            if y is None:
                raise ValueError(
                    "`y` (the observed targets) is required to compute "
                    "prediction-error anomaly scores with anomaly_detection_strategy="
                    f"{self.anomaly_detection_strategy!r}."
                )
            y = np.asarray(y, dtype="float32")
            if y.shape[0] != n:
                raise ValueError(
                    f"`y` must have one row per sample ({n}); received shape {y.shape}."
                )
        if not head:
            # Compiled predictions (graph/jit), then the error on them.
            y_pred = self.predict(arrays, batch_size=batch_size, verbose=0)
            scores = self.prediction_error_scores(y, y_pred)
            return ops.convert_to_numpy(scores).reshape(-1)
        out = []
        for start in range(0, n, batch_size):
            part = [a[start:start + batch_size] for a in arrays]
            _, features = self.forward(*part, training=False)
            scores = self.score_anomalies(features, training=False)
            out.append(ops.convert_to_numpy(scores).reshape(-1))
        return np.concatenate(out) if out else np.zeros((0,), "float32")

    # ------------------------------------------------------------ serialising
    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "forecast_horizon": self.forecast_horizon,
                "output_dim": self.output_dim,
                "quantiles": None if self.quantiles is None else list(self.quantiles),
                "embed_dim": self.embed_dim,
                "lstm_units": self.lstm_units,
                "num_heads": self.num_heads,
                "dropout_rate": self.dropout_rate,
                "anomaly_detection_strategy": self.anomaly_detection_strategy,
                "anomaly_loss_weight": self.anomaly_loss_weight,
                "anomaly_config": dict(self.anomaly_config),
            }
        )
        return config
