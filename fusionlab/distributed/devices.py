"""Train on several devices: data parallelism on TensorFlow and JAX.

:func:`data_parallel` is a context manager: a detector fitted inside it
trains its model on every device given, each one computing the gradients of
its share of each batch, with the same API and the same saved archive:

- on **TensorFlow**, a ``tf.distribute.MirroredStrategy`` scope (Keras 3's
  own distribution API is a prototype there);
- on **JAX**, ``keras.distribution.DataParallel`` set for the duration.

The detector then cuts its training batches whole (a batch is split evenly
over the devices, so ``batch_size`` must be a multiple of their number, and
the last, partial batch of each epoch is left out: the windows are shuffled
every epoch, so a different few each time) and pads its scoring batches to
such a multiple. :func:`replica_count` tells the training code how many
devices share a batch. PyTorch is not supported (Keras has no distribution
for it).

Examples
--------
On a machine with two GPUs (or two logical CPUs, see the tests)::

    from fusionlab.detection import AnomalyDetector
    from fusionlab.distributed import data_parallel

    with data_parallel():              # every GPU (else every CPU device)
        detector = AnomalyDetector(batch_size=128).fit(series)
    detector.save("detector.zip")      # loads anywhere, on any device count
"""

from __future__ import annotations

import contextlib

from .._devices import replica_count

__all__ = ["data_parallel", "replica_count", "available_devices"]


def _backend():
    import keras

    return keras.backend.backend()


def available_devices():
    """The devices a :func:`data_parallel` block would use by default: the
    accelerators when there are some, else the CPU devices."""
    backend = _backend()
    if backend == "tensorflow":
        import tensorflow as tf

        gpus = tf.config.list_logical_devices("GPU")
        return [d.name for d in (gpus or tf.config.list_logical_devices("CPU"))]
    if backend == "jax":
        import jax

        return [f"{d.platform}:{d.id}" for d in jax.devices()]
    return []


@contextlib.contextmanager
def data_parallel(devices=None):
    """Fit models on several devices inside this block (data parallelism).

    Parameters
    ----------
    devices : list of str, optional
        Device names (TensorFlow: ``'/gpu:0'``, ``'/cpu:1'``...; JAX:
        ``'gpu:0'``, ``'cpu:1'``...); default :func:`available_devices`.

    Yields
    ------
    int
        The number of devices.

    Raises
    ------
    ValueError
        With fewer than two devices given.
    NotImplementedError
        On a backend without data parallelism in Keras (PyTorch).
    """
    backend = _backend()
    devices = list(devices) if devices is not None else available_devices()
    if backend not in ("tensorflow", "jax"):
        raise NotImplementedError(
            f"data_parallel needs the TensorFlow or JAX backend; the backend is {backend!r}."
        )
    if len(devices) < 2:
        raise ValueError(
            f"data_parallel needs at least two devices; found {devices or 'none'}. On a "
            "CPU, TensorFlow can split it into logical devices "
            "(tf.config.set_logical_device_configuration) and JAX into several with "
            "XLA_FLAGS=--xla_force_host_platform_device_count=2, both before the "
            "backend starts."
        )
    if backend == "tensorflow":
        import tensorflow as tf

        with tf.distribute.MirroredStrategy(devices).scope():
            yield len(devices)
        return
    import jax
    import keras

    by_name = {f"{d.platform}:{d.id}": d for d in jax.devices()}
    unknown = [name for name in devices if name not in by_name]
    if unknown:
        raise ValueError(f"Unknown JAX devices {unknown}; available: {sorted(by_name)}.")
    previous = keras.distribution.distribution()
    keras.distribution.set_distribution(keras.distribution.DataParallel(devices=devices))
    try:
        yield len(devices)
    finally:
        keras.distribution.set_distribution(previous)
