"""Errors raised by the client."""

from __future__ import annotations

__all__ = ["ServiceError", "JobFailed", "StreamClosed"]


class ServiceError(Exception):
    """The server answered with an HTTP error.

    Attributes
    ----------
    status : int
        The HTTP status (4xx: the request was wrong; 5xx: the server failed).
    detail : object
        The server's ``detail`` (a sentence saying what was wrong).
    method, url : str
        The request.
    """

    def __init__(self, status: int, detail, method: str = "", url: str = ""):
        self.status = status
        self.detail = detail
        self.method = method
        self.url = url
        super().__init__(f"{status} from {method} {url}: {detail}")


class JobFailed(Exception):
    """A job the client waited for failed or was cancelled.

    Attributes
    ----------
    job : Job
        Its last state (``status``, ``error_message``).
    """

    def __init__(self, job):
        self.job = job
        super().__init__(f"job {job.job_id} ({job.kind}) {job.status}: {job.error_message}")


class StreamClosed(Exception):
    """The WebSocket could not be reopened after ``max_retries`` attempts."""
