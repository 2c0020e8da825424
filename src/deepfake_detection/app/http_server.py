"""Waitress for `deepfake-server`, hardened: slow clients cannot starve others, an oversized body is
refused from its headers (before it is read), and waitress's own error answers are JSON like the app's."""

from __future__ import annotations

import json
import logging
import resource
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from flask import Flask
from waitress.adjustments import Adjustments
from waitress.channel import HTTPChannel
from waitress.parser import HTTPRequestParser
from waitress.server import MultiSocketServer, TcpWSGIServer
from waitress.task import ErrorTask, ThreadedTaskDispatcher
from waitress.utilities import RequestEntityTooLarge
from werkzeug.exceptions import HTTPException

from ..settings import ServerEnv
from .calibration.views import upload_limits as calibration_upload_limits
from .detection.views import upload_limits
from .errors import CODE_BY_STATUS
from .serialization import size_text

log = logging.getLogger(__name__)
_DECLARED = ServerEnv.model_fields

# (method, path) -> (largest body accepted in bytes, the 413 message)
BodyLimit = Callable[[str, str], tuple[int, str]]

_MESSAGES = {
    400: "Bad request",
    413: "Request body too large",
    431: "Request headers too large",
    501: "Not implemented",
    500: "Internal server error",
}


@dataclass(frozen=True)
class ServerSettings:
    """How `deepfake-server` listens and how long it puts up with slow or idle clients."""

    # Defaults: the declared ones (deepfake_detection.settings.ServerEnv), which `deepfake-server` also shows.
    host: str = _DECLARED["HOST"].default
    port: int = _DECLARED["PORT"].default
    threads: int = _DECLARED["WAITRESS_THREADS"].default
    # Open connections waitress serves at once. Waitress's default (100) let 110 trickling clients take
    # the server offline; a connection costs a file descriptor and a few KB, not a thread.
    connection_limit: int = _DECLARED["WAITRESS_CONNECTION_LIMIT"].default
    # Seconds an idle keep-alive connection is kept.
    channel_timeout: int = _DECLARED["WAITRESS_CHANNEL_TIMEOUT"].default
    # Seconds for the request line and headers; also the body's grace time.
    header_timeout: float = _DECLARED["WAITRESS_HEADER_TIMEOUT"].default
    min_body_rate: int = _DECLARED["WAITRESS_MIN_BODY_RATE"].default  # bytes/s a body must average after the grace time
    linger: float = 5.0  # seconds a refused upload is drained so its client can read the 413


class BodyTooLarge(RequestEntityTooLarge):
    """A body over its endpoint's limit, refused before it is read (the body text is the message)."""


def endpoint_limits(app: Flask) -> dict[str, tuple[int, str]]:
    """Body limit and 413 message of every endpoint that sets its own (detection and calibration uploads)."""
    return {**upload_limits(app.config), **calibration_upload_limits(app.config)}


def body_limits(app: Flask) -> BodyLimit:
    """The app's per-endpoint upload limits (detection.views), the global MAX_CONTENT_LENGTH elsewhere."""
    adapter = app.url_map.bind("localhost")
    per_endpoint = endpoint_limits(app)
    largest = app.config["MAX_CONTENT_LENGTH"]
    default = (largest, f"Request body too large: the limit is {size_text(largest)}")

    def limit_for(method: str, path: str) -> tuple[int, str]:
        try:
            endpoint, _ = adapter.match(path, method=method)
        except HTTPException:  # unknown path or method: the app answers it, the global limit applies
            return default
        return per_endpoint.get(endpoint, default)

    return limit_for


class GuardedParser(HTTPRequestParser):
    """Waitress's parser, plus the per-path body limit checked as soon as the headers are in."""

    def __init__(self, adj: Adjustments, body_limit: BodyLimit, on_refused: Callable[[], None]):
        super().__init__(adj)
        self.started = time.monotonic()
        self.headers_done_at: float | None = None
        self._body_limit = body_limit
        self._on_refused = on_refused
        self._limit: tuple[int, str] | None = None

    def received(self, data: bytes) -> int:
        """Parse as waitress does; refuse a declared or received body over the path's limit."""
        in_headers = not self.headers_finished
        consumed = super().received(data)
        too_large = isinstance(self.error, RequestEntityTooLarge)
        if in_headers and self.headers_finished and (self.error is None or too_large):
            self.headers_done_at = time.monotonic()
            self._limit = self._body_limit(self.command, self.path)
        if self.error is not None:
            self._on_refused()  # whatever the client still sends is not read: linger before closing
            # Waitress's own (global) limit is answered like the path's, with its message.
            return self._refuse(len(data)) if too_large and not isinstance(self.error, BodyTooLarge) else consumed
        if self._limit is not None and max(self.content_length, self.body_bytes_received) > self._limit[0]:
            return self._refuse(len(data))  # declared, or (chunked) received so far
        return consumed

    def _refuse(self, datalen: int) -> int:
        self.error = BodyTooLarge(self._limit[1] if self._limit else _MESSAGES[413])
        self.completed = True
        self.expect_continue = False  # never invite the body we refuse ("100 Continue")
        self._on_refused()
        # The rest of this read is body: swallowed, not parsed as a next request.
        return datalen


class JsonErrorTask(ErrorTask):
    """Waitress's own error answers (400, 413, 431, 501, 500) in the app's JSON error shape."""

    def execute(self):
        error = self.request.error
        request_id = uuid.uuid4().hex
        if isinstance(error, BodyTooLarge):
            message = error.body
        elif error.code in (400, 501):  # waitress's reason is about the client's own bytes: worth showing
            message = f"{_MESSAGES[error.code]}: {str(error.body)[:200]}"
        else:
            message = _MESSAGES.get(error.code, _MESSAGES[500])
        log.info(
            "%s %s answered %d by the HTTP server: %s [%s]",
            getattr(self.request, "command", "-"),
            getattr(self.request, "path", "-"),
            error.code,
            message,
            request_id,
        )
        # The same machine-readable codes as the app's own answers (431 and 501 are only ever waitress's).
        code = CODE_BY_STATUS.get(error.code) or {431: "headers_too_large", 501: "not_implemented"}.get(
            error.code, "internal"
        )
        body = json.dumps({"success": False, "message": message, "code": code}).encode()
        self.status = f"{error.code} {error.reason}"
        self.response_headers.extend([("Content-Type", "application/json"), ("X-Request-ID", request_id)])
        self.set_close_on_finish()
        self.content_length = len(body)
        self.write(body)


class GuardedChannel(HTTPChannel):
    """One client connection: JSON errors, per-path body limits, and a lingering close after a refusal."""

    error_task_class = JsonErrorTask
    linger_deadline: float | None = None  # set while the body of a refused upload is drained
    _linger_on_close = False

    def parser_class(self, adj: Adjustments) -> GuardedParser:  # waitress calls self.parser_class(adj)
        """A parser for the next request on this connection."""
        return GuardedParser(adj, self.server.body_limit, self._refused)

    def _refused(self) -> None:
        self._linger_on_close = True

    def readable(self):
        return self.linger_deadline is not None or super().readable()

    def handle_close(self):
        # Closing with the refused body still arriving makes the kernel reset the connection, and the
        # client (still sending) may never read the 413: send FIN, then drain for a while (as nginx does).
        if self._linger_on_close and self.linger_deadline is None and self.connected and not self.total_outbufs_len:
            try:
                self.socket.shutdown(socket.SHUT_WR)
            except OSError:
                pass
            else:
                self.will_close = False
                self.linger_deadline = time.monotonic() + self.server.settings.linger
                return
        super().handle_close()

    def handle_read(self):
        if self.linger_deadline is None:
            return super().handle_read()
        try:
            self.recv(self.adj.recv_bytes)  # discarded; the client closing ends it (recv calls handle_close)
        except OSError:
            super().handle_close()


class GuardedServer(TcpWSGIServer):
    """A waitress TCP server whose maintenance also closes slow requests and finished lingers."""

    channel_class = GuardedChannel

    def __init__(self, application, *, body_limit: BodyLimit, settings: ServerSettings, **kwargs):
        self.body_limit = body_limit
        self.settings = settings
        super().__init__(application, **kwargs)

    def maintenance(self, now):
        """Waitress's idle-connection sweep, plus slow requests and expired lingers."""
        super().maintenance(now)
        clock = time.monotonic()
        for channel in list(self.active_channels.values()):
            if channel.linger_deadline is not None:
                if clock > channel.linger_deadline:
                    channel.will_close = True
            elif channel.request is not None and _too_slow(channel.request, clock, self.settings):
                log.info("Closed a connection from %s: request too slow", channel.addr[0] if channel.addr else "-")
                channel.will_close = True


def _too_slow(parser: GuardedParser, clock: float, settings: ServerSettings) -> bool:
    """Headers not in after header_timeout, or a body averaging under min_body_rate after that grace."""
    if parser.headers_done_at is None:
        return clock - parser.started > settings.header_timeout
    elapsed = clock - parser.headers_done_at
    return elapsed > settings.header_timeout and parser.body_bytes_received < settings.min_body_rate * elapsed


def _allow_open_files(wanted: int) -> None:
    """Raise the soft open-files limit (often 1024) towards `wanted`, within the hard limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def create_server(app: Flask, settings: ServerSettings):
    """Bind the listening socket(s); the returned server's run() serves until interrupted."""
    # Each connection is a descriptor; the database, models and uploads need some more.
    _allow_open_files(settings.connection_limit + 256)
    adj = Adjustments(
        host=settings.host,
        port=settings.port,
        threads=settings.threads,
        connection_limit=settings.connection_limit,
        channel_timeout=settings.channel_timeout,
        # The sweep that enforces the timeouts above runs this often (waitress: every 30 s).
        cleanup_interval=max(1, min(10, int(settings.header_timeout / 2))),
        # select() cannot watch descriptors above 1024; poll() can.
        asyncore_use_poll=True,
        # Above the app's own limits, so that GuardedParser answers first, with the endpoint's message.
        max_request_body_size=max(
            [app.config["MAX_CONTENT_LENGTH"], *(limit for limit, _ in endpoint_limits(app).values())]
        )
        + 2,
    )
    dispatcher = ThreadedTaskDispatcher()
    dispatcher.set_thread_count(adj.threads)
    socket_map: dict = {}
    servers = [
        GuardedServer(
            app,
            body_limit=body_limits(app),
            settings=settings,
            map=socket_map,
            dispatcher=dispatcher,
            adj=adj,
            sockinfo=sockinfo,
        )
        for sockinfo in adj.listen
    ]
    if len(servers) == 1:
        return servers[0]
    listening = [(server.effective_host, server.effective_port) for server in servers]
    return MultiSocketServer(socket_map, adj, listening, dispatcher, servers[-1].log_info)
