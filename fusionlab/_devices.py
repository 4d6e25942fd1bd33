"""How many devices share each batch right now (a leaf module: it imports no fusionlab code).

The training and scoring stages of :mod:`fusionlab.detection` read it to cut
whole batches when :func:`fusionlab.distributed.data_parallel` is active.
"""

from __future__ import annotations

__all__ = ["replica_count"]


def replica_count():
    """How many devices share each batch now (1 outside :func:`~fusionlab.distributed.data_parallel`)."""
    import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        if tf.distribute.has_strategy():
            return int(tf.distribute.get_strategy().num_replicas_in_sync)
        return 1
    if backend == "jax":
        distribution = keras.distribution.distribution()
        if distribution is not None and hasattr(distribution, "device_mesh"):
            return int(distribution.device_mesh.devices.size)
        return 1
    return 1
