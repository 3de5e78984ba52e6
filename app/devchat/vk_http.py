"""A real HTTP server on 127.0.0.1 that answers VK API calls with a `VkEmulator`.

Used by the local chat page (`make run` without VK_GROUP_TOKEN) and by the tests.

    with VkHttpServer() as vk:
        client = VkClient("token", 1, api_base_url=vk.base_url)
        ...
        assert vk.emulator.sent(peer_id=42)

Routes `GET|POST /method/<name>` (query string and form-encoded or JSON body) to
`emulator.handle`. `fail_next_http(status)` answers the next request(s) with a bare HTTP error.
"""
from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from app.devchat.vk_emulator import VkEmulator

_PREFIX = "/method/"
_FILES = "/files/"


@dataclass
class ServedFile:
    """An attachment file the stand-in serves (like VK's CDN): bytes, or a declared size that is
    streamed (a huge file), after an optional delay (a hanging download)."""

    data: bytes = b""
    content_type: str = "application/octet-stream"
    delay_s: float = 0.0
    stream_size: int = 0  # > 0: send this many bytes of zeros instead of `data`
    status: int = 200


class _Handler(BaseHTTPRequestHandler):
    server: "_Server"

    def do_GET(self) -> None:
        if self.path.startswith(_FILES):
            self._file(self.path[len(_FILES):].split("?", 1)[0])
            return
        self._answer(body=b"")

    def _file(self, name: str) -> None:
        served = self.server.owner.file(name)
        if served is None:
            self._send(404, b"not found", "text/plain")
            return
        self.server.owner.file_requests.append(name)
        if served.delay_s > 0:
            time.sleep(served.delay_s)
        if served.stream_size <= 0 or served.status != 200:
            self._send(served.status, served.data, served.content_type)
            return
        try:
            self.send_response(200)
            self.send_header("Content-Type", served.content_type)
            self.end_headers()  # no Content-Length: the reader must count
            chunk, left = b"\0" * 65536, served.stream_size
            while left > 0:
                self.wfile.write(chunk[:left])
                left -= len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the reader stopped at its limit

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self._answer(body=self.rfile.read(length) if length else b"")

    def _answer(self, body: bytes) -> None:
        url = urlsplit(self.path)
        if not url.path.startswith(_PREFIX) or len(url.path) <= len(_PREFIX):
            self._send(404, b'{"error": "not found"}')
            return
        status = self.server.owner.on_request()
        if status is not None:
            self._send(status, b"<html>Service unavailable</html>", "text/html")
            return
        params: dict[str, Any] = dict(parse_qsl(url.query, keep_blank_values=True))
        params.update(self._body_params(body))
        answer = self.server.owner.emulator.handle(url.path[len(_PREFIX):], params)
        self._send(200, json.dumps(answer, ensure_ascii=False).encode("utf-8"))

    def _body_params(self, body: bytes) -> dict[str, Any]:
        if not body:
            return {}
        if "json" in (self.headers.get("Content-Type") or ""):
            data = json.loads(body.decode("utf-8"))
            return data if isinstance(data, dict) else {}
        return dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))

    def _send(self, status: int, payload: bytes,
              content_type: str = "application/json; charset=utf-8") -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (e.g. its timeout fired)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    owner: "VkHttpServer"


class VkHttpServer:
    def __init__(self, emulator: VkEmulator | None = None) -> None:
        self.emulator = emulator or VkEmulator()
        self.requests_seen = 0
        self._http_failures: list[int] = []
        self._files: dict[str, ServedFile] = {}
        self.file_requests: list[str] = []
        self._lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("VkHttpServer is not started")
        host, port = self._server.server_address[:2]
        assert isinstance(host, str), "an AF_INET server's address is (str, int)"
        return f"http://{host}:{port}/method"

    def start(self) -> "VkHttpServer":
        if self._server is not None:
            return self
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.owner = self
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05},
                                        name="vk-http-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    @property
    def files_url(self) -> str:
        return self.base_url.rsplit("/method", 1)[0] + "/files"

    def add_file(self, name: str, data: bytes = b"", content_type: str = "application/octet-stream",
                 **kw: object) -> str:
        """Serve `data` at /files/<name>; returns its URL (see `ServedFile` for the options)."""
        with self._lock:
            self._files[name] = ServedFile(data, content_type, **kw)  # type: ignore[arg-type]
        return f"{self.files_url}/{name}"

    def file(self, name: str) -> "ServedFile | None":
        with self._lock:
            return self._files.get(name)

    def fail_next_http(self, status: int = 502, times: int = 1) -> None:
        """Answer the next `times` API requests with a bare HTTP `status`."""
        with self._lock:
            self._http_failures.extend([status] * times)

    def on_request(self) -> int | None:
        """Count an API request; return the HTTP failure status to answer with, if any."""
        with self._lock:
            self.requests_seen += 1
            return self._http_failures.pop(0) if self._http_failures else None

    def __enter__(self) -> "VkHttpServer":
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
