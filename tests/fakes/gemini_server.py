"""A real HTTP stand-in for the Gemini API, for tests that drive the real google-genai SDK.

    with FakeGeminiServer() as fake:
        fake.push(text_response('{"a": 1}'), error_response(500))
        client = genai.Client(api_key="k", http_options=HttpOptions(base_url=fake.base_url))

Every request is recorded (path, model, headers, JSON body). Answers come from a queue of
scripted responses (`push`) or, when the queue is empty, from `responder(request) -> (status,
body)`. A `Hang(seconds)` item keeps the connection silent longer than the client's timeout.
"""
from __future__ import annotations

import base64
import json
import re
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Optional

_PATH_RE = re.compile(r"^/(v1|v1beta|v1alpha)/models/([^/:]+):generateContent$")

Reply = tuple[int, dict[str, Any]]


@dataclass
class Hang:
    """Say nothing for `seconds` (or until the server stops), then answer `then`."""

    seconds: float = 5.0
    then: Optional[Reply] = None


@dataclass
class RecordedRequest:
    path: str
    api_version: str
    model: str
    headers: dict[str, str]
    body: dict[str, Any]

    @property
    def system_text(self) -> str:
        parts = (self.body.get("systemInstruction") or {}).get("parts") or []
        return "".join(p.get("text", "") for p in parts)

    @property
    def contents_text(self) -> str:
        return "\n".join(
            p.get("text", "") for c in self.body.get("contents", []) for p in c.get("parts", [])
        )

    @property
    def inline_parts(self) -> list[tuple[str, bytes]]:
        """(mime type, bytes) of every inline file part, in order (audio, images)."""
        out = []
        for content in self.body.get("contents", []):
            for part in content.get("parts", []):
                blob = part.get("inlineData") or part.get("inline_data")
                if blob:
                    mime = blob.get("mimeType") or blob.get("mime_type") or ""
                    data = (blob.get("data") or "").replace("-", "+").replace("_", "/")
                    out.append((mime, base64.b64decode(data, validate=True)))  # SDK: url-safe
        return out

    @property
    def generation_config(self) -> dict[str, Any]:
        return self.body.get("generationConfig") or {}


def text_response(text: Optional[str], prompt_tokens: int = 120, output_tokens: int = 30,
                  finish_reason: str = "STOP", cached_tokens: int = 0, thinking_tokens: int = 0,
                  model_version: str = "fake") -> Reply:
    parts = [] if text is None else [{"text": text}]
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts},
                                 "finishReason": finish_reason, "index": 0}
    usage = {"promptTokenCount": prompt_tokens, "candidatesTokenCount": output_tokens,
             "totalTokenCount": prompt_tokens + output_tokens + thinking_tokens}
    if cached_tokens:
        usage["cachedContentTokenCount"] = cached_tokens
    if thinking_tokens:
        usage["thoughtsTokenCount"] = thinking_tokens
    return 200, {"candidates": [candidate], "usageMetadata": usage, "modelVersion": model_version}


def json_response(obj: Any, **kw: Any) -> Reply:
    return text_response(json.dumps(obj, ensure_ascii=False), **kw)


def safety_response() -> Reply:
    candidate = {"finishReason": "SAFETY", "index": 0,
                 "safetyRatings": [{"category": "HARM_CATEGORY_HARASSMENT",
                                    "probability": "HIGH", "blocked": True}]}
    return 200, {"candidates": [candidate],
                 "usageMetadata": {"promptTokenCount": 50, "totalTokenCount": 50}}


def error_response(code: int = 500, message: str = "fake error") -> Reply:
    status = {400: "INVALID_ARGUMENT", 403: "PERMISSION_DENIED", 429: "RESOURCE_EXHAUSTED",
              500: "INTERNAL", 503: "UNAVAILABLE"}.get(code, "UNKNOWN")
    return code, {"error": {"code": code, "message": message, "status": status}}


@dataclass
class _State:
    queue: deque = field(default_factory=deque)
    requests: list[RecordedRequest] = field(default_factory=list)
    responder: Optional[Callable[[RecordedRequest], Reply]] = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    stopping: threading.Event = field(default_factory=threading.Event)


class _Handler(BaseHTTPRequestHandler):
    state: _State  # set on the subclass made per server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib name
        return

    def do_POST(self) -> None:  # noqa: N802 - stdlib name
        path = self.path.split("?", 1)[0]
        match = _PATH_RE.match(path)
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if not match:
            self._send(*error_response(404, f"no route {path}"))
            return
        request = RecordedRequest(path=path, api_version=match.group(1), model=match.group(2),
                                  headers={k.lower(): v for k, v in self.headers.items()},
                                  body=json.loads(raw or b"{}"))
        with self.state.lock:
            self.state.requests.append(request)
            item = self.state.queue.popleft() if self.state.queue else None
        if item is None:
            item = (self.state.responder(request) if self.state.responder
                    else error_response(500, "fake server: nothing scripted"))
        if isinstance(item, Hang):
            if self.state.stopping.wait(item.seconds) or item.then is None:
                return
            item = item.then
        self._send(*item)

    def _send(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body, ensure_ascii=False).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=UTF-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass


class FakeGeminiServer:
    """127.0.0.1 on a free port, served from a background thread."""

    def __init__(self, responder: Optional[Callable[[RecordedRequest], Reply]] = None):
        self._state = _State(responder=responder)
        handler = type("Handler", (_Handler,), {"state": self._state})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        self._httpd.block_on_close = False
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True,
                                        kwargs={"poll_interval": 0.05})

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._state.lock:
            return list(self._state.requests)

    def clear(self) -> None:
        """Forget the recorded requests (`requests` is a copy: clearing it changes nothing)."""
        with self._state.lock:
            self._state.requests.clear()

    def push(self, *items: Reply | Hang) -> None:
        with self._state.lock:
            self._state.queue.extend(items)

    def set_responder(self, responder: Optional[Callable[[RecordedRequest], Reply]]) -> None:
        self._state.responder = responder

    def start(self) -> "FakeGeminiServer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._state.stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> "FakeGeminiServer":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


# --- the eval lab's judge -------------------------------------------------------------------
_POINT_RE = re.compile(r"^(\d+)\. \[(must|must_not)\] [^:\n]+: (.+)$", re.M)
Decide = Callable[[str, str, str], tuple[str, str]]  # (kind, point, transcript) → verdict, reason


def is_judge_request(req: RecordedRequest) -> bool:
    """The judge asks for {"verdicts": [...]} (its JSON schema), the analysis for other keys."""
    schema = req.generation_config.get("responseJsonSchema") or {}
    return "verdicts" in (schema.get("properties") or {})


def judge_points(req: RecordedRequest) -> list[tuple[int, str, str]]:
    """(index, kind, text) of every point listed in a judge request (without its question)."""
    return [(int(m[1]), m[2], m[3].strip()) for m in _POINT_RE.finditer(req.contents_text)]


def judge_transcript(req: RecordedRequest) -> str:
    text = req.contents_text
    start, end = text.find("<переписка>"), text.find("</переписка>")
    return text[start:end] if start >= 0 else ""


def judge_response(req: RecordedRequest, decide: Optional[Decide] = None, **kw: Any) -> Reply:
    """A judge's answer for every point of `req`: `decide(kind, text, transcript)` gives the
    verdict (pass/fail, default pass), turned into the yes/no the real judge answers (a
    [must_not] point asks "was there a violation": pass → no)."""
    transcript = judge_transcript(req)
    verdicts = []
    for index, kind, text in judge_points(req):
        verdict, reason = decide(kind, text, transcript) if decide else ("pass", "всё сделано")
        done = verdict == "pass"
        answer = ("no" if done else "yes") if kind == "must_not" else ("yes" if done else "no")
        verdicts.append({"index": index, "evidence": "нет такого места", "reason": reason,
                         "answer": answer})
    return json_response({"verdicts": verdicts}, **kw)
