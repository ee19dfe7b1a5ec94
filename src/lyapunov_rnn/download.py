"""Robust, checksum-verified file downloads with mirror fallback.

:func:`download_file` tries a list of mirror URLs in order, retries transient
failures (connection errors, truncated bodies, HTTP 5xx/408/429) with
exponential backoff, verifies the bytes against a pinned checksum and moves
the result atomically onto its destination. Files are stored exactly as
served: no decompression happens here.

Only the standard library (:mod:`urllib.request`) and :mod:`tqdm` are used.
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import BinaryIO

from tqdm import tqdm

from lyapunov_rnn.io import atomic_path

__all__ = ["DownloadError", "download_file", "file_digest"]

logger = logging.getLogger(__name__)

_CHUNK_BYTES = 1 << 16
_RETRYABLE_HTTP = frozenset({408, 429})
_HEX_LENGTHS = {"sha256": 64, "md5": 32}
_USER_AGENT = "lyapunov_rnn-downloader/1.0 (+urllib)"


class DownloadError(RuntimeError):
    """Raised when no mirror delivered a file with the expected checksum.

    Attributes
    ----------
    destination : Path
        The file that was to be written.
    failures : tuple of (str, str)
        ``(url, reason)`` for every attempt made, in order.
    """

    def __init__(self, message: str, destination: Path, failures: Sequence[tuple[str, str]]):
        super().__init__(message)
        self.destination = destination
        self.failures = tuple(failures)


class _AttemptFailed(Exception):
    """One download attempt failed; ``retry`` says whether retrying may help."""

    def __init__(self, reason: str, *, retry: bool):
        super().__init__(reason)
        self.reason = reason
        self.retry = retry


def file_digest(path: str | Path, algorithm: str = "sha256") -> str:
    """Hex digest of a file's bytes.

    Parameters
    ----------
    path : Path
        File to hash.
    algorithm : str
        Any name accepted by :func:`hashlib.new` (e.g. ``"sha256"``, ``"md5"``).

    Returns
    -------
    str
        Lower-case hexadecimal digest.
    """
    digest = hashlib.new(algorithm)
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK_BYTES), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _expected_checksums(sha256: str | None, md5: str | None) -> dict[str, str]:
    """Validate and normalise the requested checksums (algorithm -> hex)."""
    expected = {}
    for algorithm, value in (("sha256", sha256), ("md5", md5)):
        if value is None:
            continue
        value = value.strip().lower()
        if len(value) != _HEX_LENGTHS[algorithm] or any(c not in "0123456789abcdef" for c in value):
            raise ValueError(f"{algorithm} must be {_HEX_LENGTHS[algorithm]} hex digits, got {value!r}")
        expected[algorithm] = value
    return expected


def _describe_expected(expected: Mapping[str, str]) -> str:
    if not expected:
        return "no checksum given"
    return ", ".join(f"expected {algorithm} {value}" for algorithm, value in expected.items())


def _matches(path: Path, expected: Mapping[str, str]) -> bool:
    return all(file_digest(path, algorithm) == value for algorithm, value in expected.items())


def _open(url: str, timeout: float) -> http.client.HTTPResponse:
    """Open ``url``, translating every failure into :class:`_AttemptFailed`."""
    request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
    try:
        return urllib.request.urlopen(request, timeout=timeout)  # noqa: S310 (URLs come from config)
    except urllib.error.HTTPError as error:
        retry = error.code >= 500 or error.code in _RETRYABLE_HTTP
        raise _AttemptFailed(f"HTTP {error.code} {error.reason}", retry=retry) from error
    except urllib.error.URLError as error:
        raise _AttemptFailed(f"connection error: {error.reason}", retry=True) from error
    except (OSError, http.client.HTTPException) as error:
        raise _AttemptFailed(f"connection error: {error!r}", retry=True) from error
    except ValueError as error:
        raise _AttemptFailed(f"invalid URL: {error}", retry=False) from error


def _stream(url: str, handle: BinaryIO, timeout: float, progress: bool, label: str) -> dict[str, str]:
    """Copy the body of ``url`` into ``handle``; return its sha256 and md5 digests.

    Raises
    ------
    _AttemptFailed
        On any network failure, including a body shorter than its
        ``Content-Length`` (a dropped connection).
    """
    digests = {algorithm: hashlib.new(algorithm) for algorithm in _HEX_LENGTHS}
    with _open(url, timeout) as response:
        length_header = response.headers.get("Content-Length")
        expected_bytes = int(length_header) if length_header and length_header.isdigit() else None
        received = 0
        with tqdm(
            total=expected_bytes,
            unit="B",
            unit_scale=True,
            desc=label,
            leave=False,
            disable=not progress or not sys.stderr.isatty(),
        ) as bar:
            while True:
                try:
                    chunk = response.read(_CHUNK_BYTES)
                except (OSError, http.client.HTTPException) as error:
                    raise _AttemptFailed(f"connection error after {received} bytes: {error!r}", retry=True) from error
                if not chunk:
                    break
                handle.write(chunk)
                for digest in digests.values():
                    digest.update(chunk)
                received += len(chunk)
                bar.update(len(chunk))
    if expected_bytes is not None and received != expected_bytes:
        raise _AttemptFailed(f"connection closed after {received} of {expected_bytes} bytes", retry=True)
    return {algorithm: digest.hexdigest() for algorithm, digest in digests.items()}


def _attempt(url: str, destination: Path, expected: Mapping[str, str], timeout: float, progress: bool) -> None:
    """Download ``url`` once to a temp file, verify it, move it onto ``destination``."""
    with atomic_path(destination, suffix=".part") as temp_path:
        with open(temp_path, "wb") as handle:
            actual = _stream(url, handle, timeout, progress, destination.name)
            handle.flush()
            os.fsync(handle.fileno())
        for algorithm, value in expected.items():
            if actual[algorithm] != value:
                raise _AttemptFailed(
                    f"checksum mismatch: expected {algorithm} {value}, got {actual[algorithm]}",
                    retry=False,
                )


def download_file(
    urls: Sequence[str],
    destination: str | Path,
    *,
    sha256: str | None = None,
    md5: str | None = None,
    retries: int = 3,
    backoff: float = 1.0,
    timeout: float = 30.0,
    progress: bool = True,
) -> Path:
    """Download a file from the first mirror that serves the expected bytes.

    Each URL is tried in order, up to ``retries`` times. Between attempts on
    the same URL the function sleeps ``backoff * 2**attempt`` seconds
    (``attempt`` = 0, 1, ... counting failed attempts). Only transient
    failures are retried (connection errors, timeouts, bodies shorter than
    their ``Content-Length``, HTTP 5xx/408/429); other HTTP errors and
    checksum mismatches move straight on to the next mirror.

    The body is streamed into a temporary file in ``destination``'s
    directory, verified, then renamed onto ``destination`` with
    :func:`os.replace` (atomic on POSIX). No partial or temporary file is
    left behind on failure. Bytes are stored exactly as served (a ``.gz``
    stays compressed).

    Parameters
    ----------
    urls : sequence of str
        Mirror URLs of the same file, most preferred first. Any scheme
        :mod:`urllib.request` supports (``https``, ``http``, ``file``).
    destination : Path
        Where to store the file; parent directories are created.
    sha256, md5 : str, optional
        Expected hex digests. ``sha256`` is preferred; ``md5`` exists for
        sources that only publish MD5s (e.g. MNIST). If both are given, both
        must match. If neither is given the bytes are not verified.
    retries : int
        Attempts per URL (>= 1).
    backoff : float
        Base delay between attempts on one URL, in seconds.
    timeout : float
        Socket timeout per connection and per read, in seconds.
    progress : bool
        Show a tqdm progress bar (only when stderr is a terminal).

    Returns
    -------
    Path
        ``destination``.

    Raises
    ------
    DownloadError
        If no URL delivered the expected bytes; the message names every URL
        with the reason of each failed attempt, and the expected checksum.
    ValueError
        If ``urls`` is empty, ``retries < 1`` or a checksum is malformed.

    Notes
    -----
    If ``destination`` already exists and matches the given checksum(s) it is
    returned without any network access. Without a checksum, an existing
    ``destination`` is trusted as is (it can only have been written
    atomically).
    """
    urls = [urls] if isinstance(urls, str) else list(urls)
    if not urls:
        raise ValueError("urls must name at least one URL")
    if retries < 1:
        raise ValueError(f"retries must be >= 1, got {retries}")
    if backoff < 0 or timeout <= 0:
        raise ValueError(f"backoff must be >= 0 and timeout > 0, got {backoff} and {timeout}")
    destination = Path(destination)
    expected = _expected_checksums(sha256, md5)

    if destination.is_file() and _matches(destination, expected):
        logger.debug("%s already present and verified", destination)
        return destination
    destination.parent.mkdir(parents=True, exist_ok=True)

    failures: list[tuple[str, str]] = []
    for url in urls:
        for attempt in range(retries):
            try:
                _attempt(url, destination, expected, timeout, progress)
                return destination
            except _AttemptFailed as failure:
                failures.append((url, f"attempt {attempt + 1}: {failure.reason}"))
                logger.warning("download of %s failed: %s", url, failure.reason)
                if not failure.retry or attempt + 1 == retries:
                    break
                time.sleep(backoff * 2**attempt)

    lines = "\n".join(f"  - {url}: {reason}" for url, reason in failures)
    raise DownloadError(
        f"could not download {destination.name} ({_describe_expected(expected)}) "
        f"from any of {len(urls)} URL(s):\n{lines}",
        destination,
        failures,
    )
