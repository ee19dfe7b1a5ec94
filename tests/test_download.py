"""Tests of :mod:`lyapunov_rnn.download` against a real local HTTP server."""

from __future__ import annotations

import hashlib
import http.server
import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from helpers.local_server import local_http_server

from lyapunov_rnn import download
from lyapunov_rnn.download import DownloadError, download_file

GOOD = bytes(range(256)) * 64  # 16 KiB
GOOD_SHA256 = hashlib.sha256(GOOD).hexdigest()
GOOD_MD5 = hashlib.md5(GOOD).hexdigest()
CORRUPT = bytes(reversed(GOOD))


@dataclass
class Site:
    """State of the local test server: what it serves and what it saw."""

    base: str = ""
    files: dict[str, bytes] = field(default_factory=dict)
    drops: dict[str, int] = field(default_factory=dict)  # path -> requests left to drop
    statuses: dict[str, int] = field(default_factory=dict)  # path -> HTTP error status
    requests: list[str] = field(default_factory=list)

    def url(self, path: str) -> str:
        return f"{self.base}{path}"

    def count(self, path: str) -> int:
        return self.requests.count(path)


def _handler_for(site: Site) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server API)
            site.requests.append(self.path)
            if self.path in site.statuses:
                self.send_error(site.statuses[self.path])
                return
            body = site.files.get(self.path)
            if body is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if site.drops.get(self.path, 0) > 0:
                # Promise the whole body, send half of it, hang up.
                site.drops[self.path] -= 1
                self.wfile.write(body[: len(body) // 2])
                self.wfile.flush()
                self.close_connection = True
                return
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            """Keep the test output quiet."""

    return Handler


@pytest.fixture
def site() -> Iterator[Site]:
    """A ThreadingHTTPServer on 127.0.0.1 serving good, corrupt, missing and dropping files."""
    state = Site(
        files={
            "/good.bin": GOOD,
            "/corrupt.bin": CORRUPT,
            "/drop.bin": GOOD,
            "/flaky.bin": GOOD,
            "/busy.bin": GOOD,
        },
        drops={"/drop.bin": 10**6, "/flaky.bin": 2},
        statuses={"/busy.bin": 503},
    )
    with local_http_server(_handler_for(state)) as base:
        state.base = base
        yield state


@pytest.fixture
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Record backoff delays instead of sleeping."""
    delays: list[float] = []
    monkeypatch.setattr(download.time, "sleep", delays.append)
    return delays


def _closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/nothing-listens-here.bin"


def _fetch(site: Site, paths: list[str], destination: Path, **kwargs) -> Path:
    kwargs.setdefault("sha256", GOOD_SHA256)
    kwargs.setdefault("backoff", 0.001)
    kwargs.setdefault("timeout", 5.0)
    kwargs.setdefault("progress", False)
    return download_file([site.url(p) for p in paths], destination, **kwargs)


def test_good_download_is_verified_and_atomic(site: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    replaced: list[tuple[Path, Path]] = []
    real_replace = os.replace

    def spy(src: str, dst: str) -> None:
        replaced.append((Path(src), Path(dst)))
        real_replace(src, dst)

    monkeypatch.setattr(download.os, "replace", spy)
    destination = tmp_path / "sub" / "good.bin"
    assert _fetch(site, ["/good.bin"], destination) == destination
    assert destination.read_bytes() == GOOD
    # Written to a temp file in the same directory, then renamed onto place.
    assert len(replaced) == 1
    source, target = replaced[0]
    assert source.parent == destination.parent and source != destination
    assert target == destination
    assert sorted(p.name for p in destination.parent.iterdir()) == ["good.bin"]


def test_md5_verification(site: Site, tmp_path: Path) -> None:
    destination = _fetch(site, ["/good.bin"], tmp_path / "f", sha256=None, md5=GOOD_MD5)
    assert destination.read_bytes() == GOOD


def test_no_checksum_downloads_unverified(site: Site, tmp_path: Path) -> None:
    assert _fetch(site, ["/corrupt.bin"], tmp_path / "f", sha256=None).read_bytes() == CORRUPT


def test_corrupt_mirror_falls_back_without_retrying(site: Site, tmp_path: Path, no_sleep: list[float]) -> None:
    destination = _fetch(site, ["/corrupt.bin", "/good.bin"], tmp_path / "f.bin", retries=3)
    assert destination.read_bytes() == GOOD
    assert site.count("/corrupt.bin") == 1
    assert site.count("/good.bin") == 1
    assert [p.name for p in tmp_path.iterdir()] == ["f.bin"]


def test_all_mirrors_bad_raises_naming_each_url(site: Site, tmp_path: Path, no_sleep: list[float]) -> None:
    refused = _closed_port_url()
    urls = [site.url("/corrupt.bin"), site.url("/missing.bin"), site.url("/drop.bin"), refused]
    with pytest.raises(DownloadError) as info:
        download_file(
            urls, tmp_path / "f.bin", sha256=GOOD_SHA256, retries=2, backoff=0.001, timeout=5.0, progress=False
        )
    message = str(info.value)
    for url in urls:
        assert url in message
    assert GOOD_SHA256 in message
    assert "checksum mismatch" in message
    assert hashlib.sha256(CORRUPT).hexdigest() in message  # the "got" digest
    assert "HTTP 404" in message
    assert "connection closed after" in message
    assert "connection error" in message
    assert isinstance(info.value, RuntimeError)
    assert {url for url, _ in info.value.failures} == set(urls)
    assert site.count("/missing.bin") == 1  # 404 is not retried
    assert list(tmp_path.iterdir()) == []


def test_dropped_connection_is_retried_then_fails(site: Site, tmp_path: Path, no_sleep: list[float]) -> None:
    with pytest.raises(DownloadError, match="connection closed after 8192 of 16384 bytes"):
        _fetch(site, ["/drop.bin"], tmp_path / "f.bin", retries=3, backoff=0.5)
    assert site.count("/drop.bin") == 3
    assert no_sleep == [0.5, 1.0]  # backoff * 2**attempt, none after the last attempt
    assert list(tmp_path.iterdir()) == []


def test_dropped_connection_recovers(site: Site, tmp_path: Path, no_sleep: list[float]) -> None:
    destination = _fetch(site, ["/flaky.bin"], tmp_path / "f.bin", retries=3)
    assert destination.read_bytes() == GOOD
    assert site.count("/flaky.bin") == 3
    assert [p.name for p in tmp_path.iterdir()] == ["f.bin"]


def test_server_error_is_retried(site: Site, tmp_path: Path, no_sleep: list[float]) -> None:
    destination = _fetch(site, ["/busy.bin", "/good.bin"], tmp_path / "f.bin", retries=2)
    assert destination.read_bytes() == GOOD
    assert site.count("/busy.bin") == 2


def test_failure_leaves_existing_file_untouched(site: Site, tmp_path: Path, no_sleep: list[float]) -> None:
    destination = tmp_path / "f.bin"
    destination.write_bytes(b"stale")
    with pytest.raises(DownloadError):
        _fetch(site, ["/drop.bin"], destination, retries=1)
    assert destination.read_bytes() == b"stale"
    assert [p.name for p in tmp_path.iterdir()] == ["f.bin"]


def test_existing_valid_file_is_not_downloaded_again(site: Site, tmp_path: Path) -> None:
    destination = tmp_path / "f.bin"
    destination.write_bytes(GOOD)
    assert _fetch(site, ["/good.bin"], destination) == destination
    assert site.requests == []


def test_existing_invalid_file_is_replaced(site: Site, tmp_path: Path) -> None:
    destination = tmp_path / "f.bin"
    destination.write_bytes(CORRUPT)
    assert _fetch(site, ["/good.bin"], destination).read_bytes() == GOOD
    assert site.count("/good.bin") == 1


@pytest.mark.parametrize(
    ("urls", "kwargs", "match"),
    [
        ([], {}, "at least one URL"),
        (["http://127.0.0.1/x"], {"retries": 0}, "retries"),
        (["http://127.0.0.1/x"], {"sha256": "abc"}, "sha256"),
        (["http://127.0.0.1/x"], {"md5": "z" * 32}, "md5"),
    ],
)
def test_invalid_arguments(tmp_path: Path, urls: list[str], kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        download_file(urls, tmp_path / "f", **kwargs)
