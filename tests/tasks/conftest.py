"""The local HTTP server that the download tests of every task use."""

from __future__ import annotations

import http.server
from collections.abc import Iterator

import pytest
from helpers.local_server import local_http_server
from helpers.task_files import Site


@pytest.fixture
def site() -> Iterator[Site]:
    state = Site()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server API)
            state.requests.append(self.path)
            body = state.files.get(self.path)
            if body is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            """Keep the test output quiet."""

    with local_http_server(Handler) as base:
        state.base = base
        yield state
