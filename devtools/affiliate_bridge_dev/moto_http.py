"""moto's HTTP server, with connections kept alive and small writes sent at once.

Werkzeug's development server, which ``ThreadedMotoServer`` uses, closes every
connection after one response (it cannot find where a request body ends, so it reads
whatever follows). Every AWS call of every function then paid a new TCP connection, a
new server thread and, on the client, a new urllib3 connection. This handler tells it
where the body ends: it hands the application a reader that stops at ``Content-Length``,
reads what the application left of the body after the response, and then lets
``BaseHTTPRequestHandler`` read the next request on the same connection.

A connection is kept only when both directions were framed beyond doubt; anything else
gets werkzeug's close-after-one, so leftover bytes are never read as a request:

* the request: every header line well formed (``http.client`` drops whatever follows a
  malformed one), no ``Transfer-Encoding`` (a chunked request: no SDK call of the
  bridge sends one) and at most one ``Content-Length``, of plain digits;
* the response: a final status, and exactly the body its own headers announced (none
  for ``HEAD``, 204 and 304; werkzeug's chunks only without a length), so an
  application failing half-way through a body closes;
* no ``close`` among the client's or the application's ``Connection`` tokens
  (werkzeug's own unconditional one, always the last it sends, is the only one held
  back).

``TCP_NODELAY``: the response's headers and body are two writes; with Nagle's algorithm
and the client's delayed ACK the second waited ~40 ms on a kept-alive connection.

Measured with the four ``moto_request_speedups`` (``GetItem``, 600 in a row, one
client): the server's CPU 2.02 ms a call closing connections, 1.60 ms keeping them.
"""

from __future__ import annotations

import io
import logging
import re
import socket
import threading
from typing import Any

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import BaseWSGIServer, make_server

_DRAIN_CHUNK = 65_536
_DIGITS = re.compile(r"[0-9]+")
_ACCESS_LOG = logging.getLogger("werkzeug")


class RequestBody(io.RawIOBase):
    """A request's body: ``length`` bytes of the connection, then end of file."""

    def __init__(self, connection: Any, length: int) -> None:
        super().__init__()
        self._connection = connection
        self._left = max(length, 0)

    def readable(self) -> bool:
        return True

    def _allowance(self, size: int | None) -> int:
        return self._left if size is None or size < 0 else min(size, self._left)

    def read(self, size: int | None = -1) -> bytes:
        allowance = self._allowance(size)
        if not allowance:
            return b""
        data: bytes = self._connection.read(allowance)
        self._left = self._left - len(data) if data else 0
        return data

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def readline(self, size: int | None = -1) -> bytes:
        allowance = self._allowance(size)
        if not allowance:
            return b""
        data: bytes = self._connection.readline(allowance)
        self._left = self._left - len(data) if data else 0
        return data

    def drain(self) -> None:
        """Read what the application did not, so the next request starts where it should."""
        while self.read(_DRAIN_CHUNK):
            pass


def request_body_length(headers: Any) -> int | None:
    """The request body's length when its framing is unambiguous, else None (then the
    connection serves this one request and closes, as werkzeug does). Any
    ``Transfer-Encoding``, more than one ``Content-Length`` or one that is not plain
    digits could make this server and a proxy or client disagree on where the next
    request starts."""
    if headers.defects or headers.get_all("Transfer-Encoding"):
        return None  # a malformed header line ends parsing: what follows it is unknown
    lengths = headers.get_all("Content-Length") or []
    if not lengths:
        return 0
    if len(lengths) != 1 or not _DIGITS.fullmatch(lengths[0].strip()):
        return None
    return int(lengths[0])


class _CountingWriter:
    """The connection's writer, counting the bytes written after the headers."""

    def __init__(self, writer: Any) -> None:
        self._writer = writer
        self.body_bytes = 0
        self._in_body = False

    def write(self, data: bytes) -> int:
        if self._in_body:
            self.body_bytes += len(data)
        return int(self._writer.write(data))

    def flush(self) -> None:
        self._writer.flush()

    def body_starts(self) -> None:
        self._in_body = True
        self.body_bytes = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._writer, name)


class KeepAliveMotoRequestHandler(MotoRequestHandler):
    """Keeps a connection after a response only when both directions are framed: the
    request's body had one plain length and was read to its end, and the response sent
    exactly the body its own headers announced. Anything else (an application failing
    half-way through a body, an application's own ``Connection: close``) closes, as
    werkzeug would."""

    _keeping_alive = False
    _writer: _CountingWriter | None = None

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """werkzeug formats the access line (path decoding, colours, a date) before its
        logger drops it; the stack sets that logger to errors only (2-3 % of a call)."""
        if _ACCESS_LOG.isEnabledFor(logging.INFO):
            super().log_request(code, size)

    def run_wsgi(self) -> None:
        length = request_body_length(self.headers)
        if length is None:
            super().run_wsgi()  # werkzeug's own: answer, then close
            return
        if any(
            "close" in token.strip().lower() for token in ",".join(self.headers.get_all("Connection") or []).split(",")
        ):
            self.close_connection = True  # http.server reads only an exact, first "close"
        connection, writer = self.rfile, self.wfile
        body = RequestBody(connection, length)
        counting = _CountingWriter(writer)
        self.rfile, self.wfile = body, counting  # type: ignore[assignment]
        self._writer = counting
        self._status: int | None = None
        self._response_lengths: list[str] = []
        self._response_chunked = False
        self._connection_values: list[str] = []
        self._keeping_alive = True
        try:
            super().run_wsgi()
            body.drain()
        finally:
            self.rfile, self.wfile = connection, writer
            self._keeping_alive = False
            self._writer = None
        if not self._response_framed(counting.body_bytes):
            self.close_connection = True

    def _response_framed(self, body_bytes: int) -> bool:
        """True when the response sent is exactly what its headers say it is."""
        if self._status is None:
            return False  # nothing was answered
        if 100 <= self._status < 200:
            return False  # an interim status as the final answer: the client waits for another
        if self._response_chunked:
            # werkzeug chunks only what has no length, and closes a chunked response it
            # could not finish; a length beside it means the body was not chunked
            return not self._response_lengths
        if self.command == "HEAD" or self._status in (204, 304):
            return body_bytes == 0
        if len(self._response_lengths) != 1 or not _DIGITS.fullmatch(self._response_lengths[0].strip()):
            return False
        return body_bytes == int(self._response_lengths[0])

    def send_response(self, code: int, message: str | None = None) -> None:
        if self._keeping_alive:
            self._status = code
        super().send_response(code, message)

    def send_header(self, keyword: str, value: str) -> None:
        if not self._keeping_alive:
            super().send_header(keyword, value)
            return
        name = keyword.lower()
        if name == "connection":
            self._connection_values.append(value)  # sent, or not, at the end of the headers
            return
        if name == "content-length":
            self._response_lengths.append(value)
        elif name == "transfer-encoding" and "chunked" in value.lower():
            self._response_chunked = True
        super().send_header(keyword, value)

    def end_headers(self) -> None:
        if self._keeping_alive:
            # werkzeug's unconditional "close" is always the last Connection header it
            # sends; any before it are the application's own, and are honoured
            # (http.server's send_header closes after a "close" but reopens after a
            # "keep-alive", so the decision is set once all are sent: any "close" from
            # the client or the application closes)
            own = self._connection_values[:-1]
            own_close = any("close" in value.lower() for value in own)
            closing = self.close_connection or own_close
            for value in own:
                super().send_header("Connection", value)
            if closing and not own_close:
                super().send_header("Connection", "close")
            self.close_connection = closing
        super().end_headers()
        if self._keeping_alive and self._writer is not None:
            self._writer.body_starts()


def serve(port: int) -> BaseWSGIServer:
    """moto's server on 127.0.0.1:port, answering on its own threads until ``shutdown()``."""
    server = make_server(
        "127.0.0.1",
        port,
        DomainDispatcherApplication(create_backend_app),
        threaded=True,
        request_handler=KeepAliveMotoRequestHandler,
    )
    threading.Thread(target=server.serve_forever, name="moto-http", daemon=True).start()
    return server
