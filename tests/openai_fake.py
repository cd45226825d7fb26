"""A local fake OpenAI-compatible ``/v1/chat/completions`` server for endpoint tests (data creation, the judge).

``FakeOpenAI.reply`` turns the user message into the reply text (tests set their own); ``fail_first``
answers that many requests with 503 first (retries); ``calls`` records every request body and its
Authorization header. The ``fake_endpoint`` fixture (tests/conftest.py) serves it on a free port.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer


def question_answer_reply(prompt: str) -> str:
    """The data-creation default: a ``Question: / Answer:`` reply built from the prompt."""
    return f"Question: What is in {prompt[-12:]!r}?\nAnswer: {prompt.split(chr(10))[3][:30]}"


class FakeOpenAI(BaseHTTPRequestHandler):
    calls: list[dict] = []
    fail_first = 0
    reply: Callable[[str], str] = staticmethod(question_answer_reply)
    raw_body: bytes | None = None
    """When set, sent as the 200 response instead of a chat completion (a server that answers garbage)."""

    def do_POST(self):  # noqa: N802 - http.server API
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).calls.append({"body": body, "auth": self.headers.get("Authorization")})
        if not self.path.endswith("/chat/completions"):
            self.send_response(404)
            self.end_headers()
            return
        if type(self).fail_first > 0:
            type(self).fail_first -= 1
            self.send_response(503)
            self.end_headers()
            return
        prompt = body["messages"][-1]["content"]
        data = type(self).raw_body or json.dumps({"choices": [{"message": {"content": type(self).reply(prompt)}}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):  # keep test output quiet
        pass


def serve() -> Iterator[str]:
    """Serve :class:`FakeOpenAI` (state reset) on a free local port; yields the base URL ``http://127.0.0.1:PORT/v1``."""
    FakeOpenAI.calls, FakeOpenAI.fail_first, FakeOpenAI.raw_body = [], 0, None
    FakeOpenAI.reply = staticmethod(question_answer_reply)
    server = HTTPServer(("127.0.0.1", 0), FakeOpenAI)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()
