"""Liquid recurrent cells: closed-form continuous-time (CfC) and liquid
time-constant (LTC) cells, written with ``keras.ops`` only.

Both cells are meant to run inside :class:`keras.layers.RNN`. Their input at
each step is the step's features with **the elapsed time since the previous
step appended as the last column**; :class:`~fusionlab.nn.liquid.CfC` and
:class:`~fusionlab.nn.liquid.LTC` do that concatenation for you.
"""

from __future__ import annotations

import math

import keras
from keras import ops

from ..._validation import check_non_negative_int, check_positive_int, check_rate

__all__ = ["CfCCell", "LTCCell", "lecun_tanh"]


def lecun_tanh(x):
    """LeCun's scaled tanh, ``1.7159 * tanh(2/3 * x)``.

    Its gain is about 1 around zero and its outputs span about [-1.7, 1.7],
    which keeps the activations of a deep backbone near unit variance.
    """
    return 1.7159 * ops.tanh(0.666 * x)


def _resolve_activation(value, name):
    if value == "lecun_tanh":
        return lecun_tanh
    try:
        return keras.activations.get(value)
    except (ValueError, TypeError) as exc:
        raise ValueError(
            f"`{name}` must be 'lecun_tanh' or a Keras activation name such as "
            f"'tanh', 'relu' or 'gelu'; received {value!r}."
        ) from exc


def _check_input_shape(cell, input_shape):
    features = input_shape[-1]
    if features is None or features < 2:
        raise ValueError(
            f"{type(cell).__name__} expects inputs whose last axis holds the "
            "features followed by the elapsed time (at least 2 columns); "
            f"received input shape {tuple(input_shape)}."
        )
    return features - 1


def _split(inputs):
    # The last column is the elapsed time before this step.
    return inputs[:, :-1], inputs[:, -1:]


@keras.saving.register_keras_serializable(package="fusionlab")
class CfCCell(keras.layers.Layer):
    """Closed-form continuous-time cell (Hasani et al., 2022), 'default' mode.

    For input ``x``, elapsed time ``t`` and previous state ``h``:

    .. math::

        z &= \\mathrm{backbone}([x, h]) \\\\
        f_1 &= \\tanh(W_1 z + b_1), \\quad f_2 = \\tanh(W_2 z + b_2) \\\\
        g &= \\sigma(-(W_a z + b_a)\\, t + (W_b z + b_b)) \\\\
        h' &= (1 - g) \\odot f_1 + g \\odot f_2

    The gate ``g`` is the closed-form approximation of the liquid ODE's
    solution: the time-constant heads ``a`` and ``b`` decide, per unit, how
    fast the state moves from ``f_2`` (short elapsed time) to ``f_1`` (long
    elapsed time, where ``a > 0``). The new state is a convex combination of
    two tanh heads, so it always lies in (-1, 1). The backbone is
    ``backbone_layers`` dense layers of ``backbone_units`` units.

    Parameters
    ----------
    units : int
        Size of the state and of the output.
    backbone_units : int, default=64
        Width of each backbone layer.
    backbone_layers : int, default=2
        Number of backbone layers (0: the heads read ``[x, h]`` directly).
    backbone_activation : str, default='lecun_tanh'
        ``'lecun_tanh'`` or any Keras activation name.
    backbone_dropout : float in [0, 1), default=0.0
        Dropout after each backbone layer, in training only. Run by
        :class:`~fusionlab.nn.liquid.CfC`, one mask per sequence is drawn
        before the steps (:meth:`draw_dropout_masks`) and reused at every
        step, which keeps the loop free of random state (required on JAX).
        In a plain ``keras.layers.RNN`` each step draws its own mask, which
        works on TensorFlow and PyTorch only.
    **kwargs
        Passed to :class:`keras.layers.Layer`.

    Notes
    -----
    Inputs have shape ``(batch, features + 1)``; the last column is the
    elapsed time. Outputs and the state have shape ``(batch, units)``.

    Examples
    --------
    >>> import keras, numpy as np
    >>> from fusionlab.nn.liquid import CfCCell
    >>> rnn = keras.layers.RNN(CfCCell(8, backbone_units=16), return_sequences=True)
    >>> x = np.random.default_rng(0).normal(size=(2, 5, 3)).astype("float32")
    >>> dt = np.ones((2, 5, 1), "float32")
    >>> tuple(rnn(np.concatenate([x, dt], axis=-1)).shape)
    (2, 5, 8)

    References
    ----------
    Hasani, R., Lechner, M., Amini, A., Liebenwein, L., Ray, A., Tschaikowski,
    M., Teschl, G. and Rus, D. (2022). Closed-form continuous-time neural
    networks. Nature Machine Intelligence 4, 992-1003.
    """

    def __init__(self, units, backbone_units=64, backbone_layers=2,
                 backbone_activation="lecun_tanh", backbone_dropout=0.0, **kwargs):
        super().__init__(**kwargs)
        self.units = check_positive_int(units, "units")
        self.backbone_units = check_positive_int(backbone_units, "backbone_units")
        self.backbone_layers = check_non_negative_int(backbone_layers, "backbone_layers")
        self.backbone_activation = backbone_activation
        self._activation = _resolve_activation(backbone_activation, "backbone_activation")
        self.backbone_dropout = check_rate(
            backbone_dropout, "backbone_dropout", include_high=False
        )
        self.state_size = self.units
        self.output_size = self.units
        self.backbone = [
            keras.layers.Dense(self.backbone_units, name=f"backbone_{i + 1}")
            for i in range(self.backbone_layers)
        ]
        self.dropout = keras.layers.Dropout(self.backbone_dropout)
        self._dropout_masks = None
        self.ff1 = keras.layers.Dense(self.units, name="ff1")
        self.ff2 = keras.layers.Dense(self.units, name="ff2")
        self.time_a = keras.layers.Dense(self.units, name="time_a")
        self.time_b = keras.layers.Dense(self.units, name="time_b")

    def build(self, input_shape):
        features = _check_input_shape(self, input_shape)
        width = features + self.units
        for dense in self.backbone:
            dense.build((None, width))
            width = self.backbone_units
        for head in (self.ff1, self.ff2, self.time_a, self.time_b):
            head.build((None, width))
        self.built = True

    def draw_dropout_masks(self, batch_size, dtype="float32"):
        """Draw the backbone's dropout masks for one batch of sequences.

        Until :meth:`clear_dropout_masks`, every training step of the cell
        multiplies backbone layer ``i``'s output by mask ``i`` (entries 0 or
        ``1 / (1 - backbone_dropout)``) instead of drawing a new one.
        """
        if self.backbone_dropout == 0 or not self.backbone:
            return
        ones = ops.ones((batch_size, self.backbone_units), dtype=dtype)
        self._dropout_masks = [
            keras.random.dropout(ones, self.backbone_dropout,
                                 seed=self.dropout.seed_generator)
            for _ in self.backbone
        ]

    def clear_dropout_masks(self):
        """Forget the masks of :meth:`draw_dropout_masks`."""
        self._dropout_masks = None

    def call(self, inputs, states, training=False):
        state = states[0] if isinstance(states, (list, tuple)) else states
        x, elapsed = _split(inputs)
        z = ops.concatenate([x, state], axis=-1)
        for index, dense in enumerate(self.backbone):
            z = self._activation(dense(z))
            if training and self._dropout_masks is not None:
                z = z * ops.cast(self._dropout_masks[index], z.dtype)
            else:
                z = self.dropout(z, training=training)
        ff1 = ops.tanh(self.ff1(z))
        ff2 = ops.tanh(self.ff2(z))
        gate = ops.sigmoid(-self.time_a(z) * elapsed + self.time_b(z))
        new_state = ff1 * (1.0 - gate) + gate * ff2
        return new_state, [new_state]

    def get_config(self):
        config = super().get_config()
        config.update({
            "units": self.units,
            "backbone_units": self.backbone_units,
            "backbone_layers": self.backbone_layers,
            "backbone_activation": self.backbone_activation,
            "backbone_dropout": self.backbone_dropout,
        })
        return config


def _inverse_softplus(y):
    return math.log(math.expm1(y))


def _uniform(low, high):
    return keras.initializers.RandomUniform(minval=low, maxval=high)


def _softplus_uniform(low, high):
    # Raw parameters pass through softplus; initialise them so the positive
    # parameter starts in [low, high].
    return _uniform(_inverse_softplus(low), _inverse_softplus(high))


@keras.saving.register_keras_serializable(package="fusionlab")
class LTCCell(keras.layers.Layer):
    """Liquid time-constant cell (Hasani et al., 2021), fully connected.

    Each of the ``units`` neurons has a membrane potential ``v`` that obeys

    .. math::

        c_m \\dot v = g_l (v_l - v)
            + \\sum_j w_j \\sigma(s_j (u_j - \\mu_j)) (E_j - v)

    where the sum runs over the (affinely mapped) inputs ``u`` (sensory
    synapses) and the neurons' own potentials (recurrent synapses), and
    ``c_m``, ``g_l``, ``w`` are kept positive through a softplus. The ODE is
    integrated over the elapsed time ``t`` with ``ode_unfolds`` steps of the
    fused semi-implicit Euler solver, each step being

    .. math::

        v \\leftarrow \\frac{c_m v + \\delta (g_l v_l + \\sum_j a_j E_j)}
                             {c_m + \\delta (g_l + \\sum_j a_j)},
        \\qquad \\delta = t / \\text{ode\\_unfolds},\\;
        a_j = w_j \\sigma(s_j (u_j - \\mu_j)).

    (The paper writes it with ``c_m / delta``; multiplying through by
    ``delta`` gives the same update, and stays finite when ``t = 0``, where
    the state is kept unchanged.) Every step is a weighted average, with
    positive weights, of ``v``, ``v_l`` and the reversal potentials ``E``, so
    ``|v|`` never exceeds the largest of ``|v_0|``, ``|v_l|`` and ``|E|``:
    the state stays bounded whatever the inputs and the elapsed time.

    The output is ``v * output_w + output_b`` (one scale and offset per
    neuron).

    Parameters
    ----------
    units : int
        Number of neurons (state and output size).
    ode_unfolds : int, default=6
        Solver steps per input step.
    epsilon : float, default=1e-8
        Added to the solver's denominator.
    **kwargs
        Passed to :class:`keras.layers.Layer`.

    Notes
    -----
    Inputs have shape ``(batch, features + 1)``; the last column is the
    elapsed time (negative values would break the averaging above and are
    rejected by the layers and models that feed this cell).

    Examples
    --------
    >>> import keras, numpy as np
    >>> from fusionlab.nn.liquid import LTCCell
    >>> rnn = keras.layers.RNN(LTCCell(6), return_sequences=True)
    >>> x = np.random.default_rng(0).normal(size=(2, 5, 3)).astype("float32")
    >>> dt = np.full((2, 5, 1), 0.5, "float32")
    >>> tuple(rnn(np.concatenate([x, dt], axis=-1)).shape)
    (2, 5, 6)

    References
    ----------
    Hasani, R., Lechner, M., Amini, A., Rus, D. and Grosu, R. (2021). Liquid
    time-constant networks. Proceedings of the AAAI Conference on Artificial
    Intelligence 35(9), 7657-7666.
    """

    def __init__(self, units, ode_unfolds=6, epsilon=1e-8, **kwargs):
        super().__init__(**kwargs)
        self.units = check_positive_int(units, "units")
        self.ode_unfolds = check_positive_int(ode_unfolds, "ode_unfolds")
        self.epsilon = check_rate(epsilon, "epsilon", low=0.0, high=1.0)
        self.state_size = self.units
        self.output_size = self.units

    def build(self, input_shape):
        features = _check_input_shape(self, input_shape)
        units = self.units
        add = self.add_weight
        # Initial ranges follow the LTC paper's reference set-up.
        self.gleak = add(name="gleak", shape=(units,), initializer=_softplus_uniform(0.001, 1.0))
        self.vleak = add(name="vleak", shape=(units,), initializer=_uniform(-0.2, 0.2))
        self.cm = add(name="cm", shape=(units,), initializer=_softplus_uniform(0.4, 0.6))
        self.sigma = add(name="sigma", shape=(units, units), initializer=_uniform(3.0, 8.0))
        self.mu = add(name="mu", shape=(units, units), initializer=_uniform(0.3, 0.8))
        self.w = add(name="w", shape=(units, units), initializer=_softplus_uniform(0.001, 1.0))
        self.erev = add(name="erev", shape=(units, units), initializer=_uniform(-1.0, 1.0))
        self.sensory_sigma = add(
            name="sensory_sigma", shape=(features, units), initializer=_uniform(3.0, 8.0)
        )
        self.sensory_mu = add(
            name="sensory_mu", shape=(features, units), initializer=_uniform(0.3, 0.8)
        )
        self.sensory_w = add(
            name="sensory_w", shape=(features, units), initializer=_softplus_uniform(0.001, 1.0)
        )
        self.sensory_erev = add(
            name="sensory_erev", shape=(features, units), initializer=_uniform(-1.0, 1.0)
        )
        self.input_w = add(name="input_w", shape=(features,), initializer="ones")
        self.input_b = add(name="input_b", shape=(features,), initializer="zeros")
        self.output_w = add(name="output_w", shape=(units,), initializer="ones")
        self.output_b = add(name="output_b", shape=(units,), initializer="zeros")
        self.built = True

    def positive_parameters(self):
        """The softplus-mapped ``(cm, gleak, w, sensory_w)``."""
        return (
            ops.softplus(self.cm),
            ops.softplus(self.gleak),
            ops.softplus(self.w),
            ops.softplus(self.sensory_w),
        )

    def call(self, inputs, states, training=False):
        v = states[0] if isinstance(states, (list, tuple)) else states
        x, elapsed = _split(inputs)
        x = x * self.input_w + self.input_b
        cm, gleak, w, sensory_w = self.positive_parameters()

        # Sensory synapses do not depend on v: computed once per step.
        sensory = sensory_w * ops.sigmoid(
            self.sensory_sigma * (ops.expand_dims(x, -1) - self.sensory_mu)
        )
        sensory_num = ops.sum(sensory * self.sensory_erev, axis=1)
        sensory_den = ops.sum(sensory, axis=1)

        delta = elapsed / float(self.ode_unfolds)
        leak = gleak * self.vleak
        for _ in range(self.ode_unfolds):
            synapse = w * ops.sigmoid(self.sigma * (ops.expand_dims(v, -1) - self.mu))
            numerator = cm * v + delta * (leak + ops.sum(synapse * self.erev, axis=1) + sensory_num)
            denominator = cm + delta * (gleak + ops.sum(synapse, axis=1) + sensory_den)
            v = numerator / (denominator + self.epsilon)
        return v * self.output_w + self.output_b, [v]

    def get_config(self):
        config = super().get_config()
        config.update({
            "units": self.units,
            "ode_unfolds": self.ode_unfolds,
            "epsilon": self.epsilon,
        })
        return config
