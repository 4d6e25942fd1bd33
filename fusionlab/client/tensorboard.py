"""Writing TensorBoard event files (scalars) without TensorFlow.

Uses the ``tensorboard`` package's event file writer and protocol buffers
(the same writer PyTorch's ``SummaryWriter`` uses), so the files are read by
TensorBoard and by TensorFlow's ``summary_iterator``.
"""

from __future__ import annotations

import time
from pathlib import Path

__all__ = ["ScalarWriter"]


class ScalarWriter:
    """Scalars into one TensorBoard run folder.

    Parameters
    ----------
    log_dir : path
        The run's folder (created).

    Examples
    --------
    >>> from fusionlab.client.tensorboard import ScalarWriter
    >>> with ScalarWriter("tb_run") as writer:
    ...     writer.add_scalar("loss", 0.5, step=1)
    >>> len(list(writer.log_dir.glob("events.out.tfevents.*")))
    1
    """

    def __init__(self, log_dir):
        try:
            from tensorboard.compat.proto import event_pb2, summary_pb2
            from tensorboard.summary.writer.event_file_writer import EventFileWriter
        except ImportError as exc:  # pragma: no cover - depends on the extra
            raise ImportError("TensorBoard export needs the tensorboard package: pip install "
                              "'fusionlab-learn[service]'.") from exc
        self.log_dir = Path(log_dir)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._event_pb2 = event_pb2
        self._summary_pb2 = summary_pb2
        self._writer = EventFileWriter(str(self.log_dir))

    def add_scalar(self, tag: str, value: float, step: int, wall_time: float | None = None):
        """One scalar point of the series ``tag``."""
        summary = self._summary_pb2.Summary(
            value=[self._summary_pb2.Summary.Value(tag=tag, simple_value=float(value))])
        event = self._event_pb2.Event(wall_time=wall_time if wall_time is not None
                                      else time.time(), step=int(step), summary=summary)
        self._writer.add_event(event)

    def close(self):
        """Flush and close the file."""
        self._writer.flush()
        self._writer.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
