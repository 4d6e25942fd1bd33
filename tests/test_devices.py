"""Training on several devices (issue 19): TensorFlow's MirroredStrategy and JAX's DataParallel.

Each case runs in a fresh interpreter, because a CPU is split into two
logical devices only before the backend starts.
"""

import importlib.util
import os
import subprocess
import sys

import pytest

from fusionlab.distributed.devices import data_parallel, replica_count

SCRIPT = r"""
import os, sys
import numpy as np
if os.environ["KERAS_BACKEND"] == "tensorflow":
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from fusionlab.detection import AnomalyDetector
from fusionlab.distributed.devices import available_devices, data_parallel, replica_count

x = np.sin(np.arange(480) * 2 * np.pi / 24) + np.random.default_rng(0).normal(0, 0.05, 480)
x[300:303] += 3.0
# The model's error alone: what the devices train (the subsequence scorers are fitted
# on the host either way); raw scores, so the spike is found at its points.
settings = dict(model="conv_autoencoder", window=24, epochs=3, random_state=0,
                scorers=("reconstruction",), smoothing=None,
                model_params={"filters": (8,), "latent_channels": 4})
with data_parallel() as n:
    assert n == 2 and replica_count() == 2, (n, replica_count())
    try:
        AnomalyDetector(batch_size=63, **settings).fit(x)
    except ValueError as exc:
        assert "multiple of the 2 devices" in str(exc), exc
    else:
        raise AssertionError("an odd batch size was accepted")
    det = AnomalyDetector(**settings).fit(x)
    inside = det.score_samples(x)
assert replica_count() == 1
loss = det.history_["loss"]
assert loss[-1] < loss[0], loss
det.save(sys.argv[1])
loaded = AnomalyDetector.load(sys.argv[1])
np.testing.assert_allclose(loaded.score_samples(x), inside, rtol=1e-4)
assert 298 <= int(np.argmax(inside)) <= 305
print("ok", len(available_devices()), loss[0], loss[-1])
"""


def _run(backend, tmp_path):
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3",
               XLA_FLAGS="--xla_force_host_platform_device_count=2")
    result = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path / "det.zip")],
                            capture_output=True, text=True, timeout=600, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.startswith("ok 2"), result.stdout


def test_tensorflow_mirrored_strategy_on_two_logical_cpus(tmp_path):
    _run("tensorflow", tmp_path)


@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="needs the jax extra")
def test_jax_data_parallel_on_two_host_devices(tmp_path):
    _run("jax", tmp_path)


def test_one_device_is_not_data_parallel():
    assert replica_count() == 1
    with pytest.raises(ValueError, match="at least two devices"):
        with data_parallel(["/cpu:0"]):
            pass
