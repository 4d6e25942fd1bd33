"""Training stage of the series detector: the schedule and the robust second stage.

:func:`fit_model` trains a model on windows of a scaled series and, when
asked, a second one without the windows that cover the most suspect points
(:func:`clean_windows`). Nothing here keeps state: the functions return the
trained model, its history and what the second stage left out.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import keras
import numpy as np

from .._validation import check_non_negative_int, check_positive_int, check_rate
from .scoring import point_contributions
from .windowing import WindowDataset, window_starts

__all__ = ["TrainingSchedule", "TrainedModel", "training_windows", "training_stride",
           "window_datasets", "compile_model", "train_model", "optimizer_start",
           "restart_model", "clean_windows", "fit_model"]


@dataclass(frozen=True)
class TrainingSchedule:
    """How a detector's model is trained (see :class:`~fusionlab.detection.AnomalyDetector`).

    The settings are checked when the schedule is created.

    Attributes
    ----------
    epochs, batch_size : int
    learning_rate : float
        Adam's learning rate; the loss is the mean squared error.
    validation_split : float
        Fraction of the *last* points held out for validation (its windows
        strided as the training windows are).
    step : int
        Stride of the training windows.
    max_train_windows : int or None
        Most training windows; a longer series is trained on every ``k``-th.
    callbacks : list
        Keras callbacks passed to ``fit``.
    verbose : int
    seed : int or None
        Seed of the window shuffling.
    """

    epochs: int = 15
    batch_size: int = 64
    learning_rate: float = 1e-3
    validation_split: float = 0.1
    step: int = 1
    max_train_windows: int | None = 2048
    callbacks: list = field(default_factory=list)
    verbose: int = 0
    seed: int | None = None

    def __post_init__(self):
        # Checked on creation, so a bad setting fails before any training.
        check_positive_int(self.step, "step")
        check_positive_int(self.max_train_windows, "max_train_windows", allow_none=True)
        check_positive_int(self.epochs, "epochs")
        check_positive_int(self.batch_size, "batch_size")
        check_rate(self.validation_split, "validation_split", include_high=False)
        check_rate(self.learning_rate, "learning_rate", low=0.0, high=np.inf)
        if self.learning_rate == 0:
            raise ValueError("`learning_rate` must be > 0; received 0.")
        check_non_negative_int(self.seed, "random_state", allow_none=True)


@dataclass(frozen=True)
class TrainedModel:
    """What :func:`fit_model` returns.

    Attributes
    ----------
    model : keras.Model
        The model kept (the second one when the robust stage left windows out).
    horizon : int
        0 for a reconstruction model, ``h`` for a forecast model.
    history : dict
        ``History.history`` of the kept model, as lists of floats.
    n_windows_left_out : int
        Training windows the robust stage left out (0 when it kept the first
        model or did not run).
    """

    model: keras.Model
    horizon: int
    history: dict
    n_windows_left_out: int


def training_windows(n, span, schedule, warn=True):
    """Starts of the training windows of an ``n``-point series, and the validation points.

    The last ``round(validation_split * n)`` points are held out for
    validation, unless either part would hold fewer than ``span`` points
    (then nothing is held out, with a ``UserWarning`` when ``warn``). At most
    ``max_train_windows`` windows are kept, evenly strided
    (:func:`training_stride`).

    Returns
    -------
    starts : ndarray of int
    n_valid : int
    """
    n_valid = int(round(schedule.validation_split * n))
    if n_valid and (n_valid < span or n - n_valid < span):
        if warn:
            warnings.warn(
                f"validation_split={schedule.validation_split} leaves {n_valid} "
                f"validation and {n - n_valid} training points, fewer than the "
                f"span of one window ({span}); training without validation.",
                UserWarning,
                stacklevel=6,
            )
        n_valid = 0
    starts = window_starts(n - n_valid, span, schedule.step)
    stride = training_stride(starts.size, schedule.max_train_windows)
    return starts[::stride], n_valid


def training_stride(n_windows, cap):
    """Every how many windows one is trained on: 1, or enough to keep at most ``cap``.

    Examples
    --------
    >>> from fusionlab.detection.training import training_stride
    >>> training_stride(1000, 2048), training_stride(9225, 2048), training_stride(9225, None)
    (1, 5, 1)
    """
    if cap is None or n_windows <= cap:
        return 1
    return -(-n_windows // cap)


def window_datasets(scaled, window, horizon, schedule, starts=None, time_delta=None):
    """The shuffled training :class:`WindowDataset` and the validation one (or None).

    ``starts`` restricts the training windows (the robust stage); the
    validation windows are the same either way. When several devices share
    each batch (:func:`~fusionlab.distributed.devices.replica_count`), the
    batches are cut whole: ``batch_size`` must be a multiple of the device
    count, and each epoch leaves out its last, partial batch.
    """
    from .._devices import replica_count

    n = scaled.shape[0]
    replicas = replica_count()
    if replicas > 1 and schedule.batch_size % replicas:
        raise ValueError(
            f"`batch_size` ({schedule.batch_size}) must be a multiple of the {replicas} "
            "devices that share each batch."
        )
    common = dict(window=window, horizon=horizon, batch_size=schedule.batch_size,
                  time_delta=time_delta, drop_remainder=replicas > 1)
    all_starts, n_valid = training_windows(n, window + horizon, schedule)
    if starts is None:
        starts = all_starts
    train = WindowDataset(scaled, shuffle=True, seed=schedule.seed, starts=starts, **common)
    valid = None
    if n_valid:
        # Strided as the training windows are: the validation loss is only
        # reported, and on a long series every window of the last tenth
        # cost a quarter of each epoch.
        stride = training_stride(
            window_starts(n - n_valid, window + horizon, schedule.step).size,
            schedule.max_train_windows)
        step = schedule.step * stride
        valid_starts = window_starts(n_valid, window + horizon, step) + (n - n_valid)
        if replicas == 1 or valid_starts.size >= schedule.batch_size:
            valid = WindowDataset(scaled, step=step, start=n - n_valid, **common)
    return train, valid


def compile_model(model, schedule):
    """Compile ``model`` for training: Adam at the schedule's learning rate, mean squared error."""
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=schedule.learning_rate), loss="mse"
    )


def train_model(model, scaled, window, horizon, schedule, starts=None, time_delta=None,
                compiled=False):
    """Train ``model`` on windows of ``scaled``, compiled first (:func:`compile_model`); its history.

    ``compiled=True`` trains a model compiled before as it is (after
    :func:`restart_model`), with the training steps it has traced.

    Returns
    -------
    dict
        ``History.history`` with plain float lists.
    """
    if not compiled:
        compile_model(model, schedule)
    train, valid = window_datasets(scaled, window, horizon, schedule, starts, time_delta)
    history = model.fit(
        train,
        validation_data=valid,
        epochs=schedule.epochs,
        callbacks=list(schedule.callbacks),
        verbose=schedule.verbose,
    )
    return {k: [float(v) for v in vals] for k, vals in history.history.items()}


def optimizer_start(model):
    """The compiled ``model``'s optimizer state now, to put back with :func:`restart_model`.

    Called before the first training step, it records the optimizer's
    initial state: the optimizer is built on the model's weights here, so
    its slots exist (at their initial values) to be recorded.

    Parameters
    ----------
    model : keras.Model
        Compiled and built.

    Returns
    -------
    list of ndarray or None
        One value per optimizer variable (step count, learning rate, slots);
        None for a model without an optimizer or not built.
    """
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None or not model.built:
        return None
    if not optimizer.built:
        optimizer.build(model.trainable_variables)
    return [keras.ops.convert_to_numpy(variable) for variable in optimizer.variables]


def restart_model(model, fresh, start):
    """Put the trained ``model`` back to untrained: ``fresh``'s variables, the optimizer at ``start``.

    ``model`` keeps its traced training steps, which a second model would
    trace again (seconds per fit), and trains as ``fresh`` would. Only the
    variables Keras tracks are put back (weights, random seeds, optimizer
    state), as for any Keras model.

    Parameters
    ----------
    model : keras.Model
        Trained, compiled with the optimizer ``start`` was read from.
    fresh : keras.Model
        A new model from the same builder, its weights (and random seeds)
        drawn as they would be for a second model.
    start : list of ndarray or None
        :func:`optimizer_start`'s record.

    Returns
    -------
    bool
        False, changing nothing, when the two models' variables (or the
        optimizer's and ``start``) differ in number, shape or dtype:
        ``fresh`` is then trained instead.
    """
    mine, theirs = model.variables, fresh.variables
    slots = model.optimizer.variables

    def same(a, b):
        return tuple(a.shape) == tuple(b.shape) and np.dtype(a.dtype) == np.dtype(b.dtype)

    if (start is None or len(mine) != len(theirs) or len(slots) != len(start)
            or not all(same(a, b) for a, b in zip(mine, theirs, strict=True))
            or not all(same(v, np.asarray(s)) for v, s in zip(slots, start, strict=True))):
        return False
    for variable, value in zip(mine, theirs, strict=True):
        variable.assign(value)
    for variable, value in zip(slots, start, strict=True):
        variable.assign(value)
    return True


def clean_windows(point_scores, contamination, starts, span):
    """Which training windows cover none of the most suspect points, or None.

    The suspects are the points whose score exceeds the ``1 - contamination``
    quantile. Returns a boolean mask over ``starts`` (True: the window holds
    no suspect), or None when fewer than half of the windows are clean: the
    suspects are then spread over most windows (noise peaks rather than a
    few anomalies) and leaving them out would leave too little to learn from
    (on the NAB files keeping only the least suspect half scored lower).
    """
    cut = np.quantile(point_scores, 1.0 - contamination)
    # Cumulative count of suspects: a window is clean when it does not grow
    # over the window's span.
    suspect = np.r_[0, np.cumsum(point_scores > cut)]
    clean = suspect[starts + span] == suspect[starts]
    if clean.sum() >= 0.5 * starts.size:
        return clean
    return None


def fit_model(build: Callable, scaled, window, schedule, *, deltas_for=None, robust=False,
              contamination=0.05, predict_batch_size=1024):
    """Train a detector's model, with the robust second stage when asked.

    Parameters
    ----------
    build : callable
        ``build() -> (model, horizon)``: a fresh, uncompiled model
        (:func:`~fusionlab.detection.models.make_model`).
    scaled : ndarray of shape (n_points, n_features)
    window : int
    schedule : TrainingSchedule
    deltas_for : callable, optional
        ``deltas_for(model) -> ndarray of shape (n_points,) or None``: the
        time deltas the model takes (None for a model that takes none).
    robust : bool, default=False
        Two stages: the first model scores the training points with raw
        (unsmoothed) errors, and a fresh model is trained without the windows
        covering the ``contamination`` share of highest-scoring points
        (:func:`clean_windows`; the first model is kept when it returns None).
        Raw errors pick them: smoothing would spend the budget on the widest
        anomaly and let the model learn the short ones. The fresh model's
        weights are trained in the first model's place
        (:func:`restart_model`), which saves tracing its training steps again.
    contamination : float, default=0.05
    predict_batch_size : int, default=1024
        Windows per batch when the first model scores.

    Returns
    -------
    TrainedModel
    """
    n = scaled.shape[0]
    model, horizon = build()
    span = window + horizon
    if n < span:
        raise ValueError(f"`X` has {n} rows, fewer than window + forecast horizon = {span}.")
    time_delta = None if deltas_for is None else deltas_for(model)
    compile_model(model, schedule)
    start = optimizer_start(model) if robust else None
    history = train_model(model, scaled, window, horizon, schedule, time_delta=time_delta,
                          compiled=True)
    left_out = 0
    if robust:
        scores = point_contributions(
            model, scaled, window, horizon=horizon, batch_size=predict_batch_size,
            time_delta=time_delta,
        ).sum(axis=1)
        starts, _ = training_windows(n, span, schedule, warn=False)
        clean = clean_windows(scores, contamination, starts, span)
        if clean is not None:
            # A second model, its weights drawn afresh; trained in the first
            # one's place, whose compiled steps it reuses.
            fresh, _ = build()
            restarted = restart_model(model, fresh, start)
            if not restarted:
                model = fresh
            history = train_model(model, scaled, window, horizon, schedule,
                                  starts=starts[clean], time_delta=time_delta,
                                  compiled=restarted)
            left_out = int(starts.size - clean.sum())
    return TrainedModel(model, horizon, history, left_out)
