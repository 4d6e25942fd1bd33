"""Start the Keras backend without its native start-up log lines.

TensorFlow's C++ core prints its start-up messages (``absl::InitializeLog``,
oneDNN, CUDA probing, CPU features) to file descriptor 2 while it loads,
before ``TF_CPP_MIN_LOG_LEVEL`` is read, so a command-line user sees a dozen
lines of noise before any result. The command line therefore imports Keras
with the process's standard error pointed at a temporary file; what it held
is printed only when the import fails.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile

__all__ = ["import_backend"]


@contextlib.contextmanager
def _native_stderr_captured():
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield capture
        except BaseException:
            os.dup2(saved, 2)
            capture.seek(0)
            sys.stderr.write(capture.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def import_backend(verbose=False):
    """Import Keras and run one operation, so the backend is loaded; return ``keras``.

    With ``verbose`` the native log lines are shown as usual.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if verbose:
        import keras

        return keras
    with _native_stderr_captured():
        import keras

        # The first operation probes the devices (and logs about it).
        keras.ops.convert_to_numpy(keras.ops.zeros((1,)) + 1)
    return keras
