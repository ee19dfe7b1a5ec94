"""Atomic file writes: a reader never sees a half-written result.

Every writer goes to a temporary file in the destination's directory and
renames it onto the destination (``os.replace`` is atomic on POSIX), so an
interrupted job leaves either the old file or none, never a truncated one.
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any


@contextlib.contextmanager
def atomic_path(destination: str | Path, *, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path that replaces ``destination`` on success.

    Parameters
    ----------
    destination : path-like
        Final file. Its parent directory is created if needed.
    suffix : str, optional
        Suffix of the temporary file (some writers infer the format from it);
        defaults to the destination's suffix.

    Notes
    -----
    On any exception the temporary file is removed and ``destination`` is
    left untouched.
    """
    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(
        dir=destination.parent, prefix=f".{destination.name}.", suffix=suffix or destination.suffix
    )
    os.close(handle)
    temporary = Path(name)
    try:
        yield temporary
        # mkstemp creates the file private (0600); give the result the permissions of a
        # plainly created file, so collaborators on a shared filesystem can read it.
        temporary.chmod(0o666 & ~_umask())
        os.replace(temporary, destination)
    finally:
        temporary.unlink(missing_ok=True)


def _umask() -> int:
    """The process's umask (reading it means setting it, so set it straight back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_torch_save(obj: Any, destination: str | Path) -> None:
    """``torch.save`` to ``destination`` atomically, with the same bytes for the same ``obj``.

    ``torch.save`` names the records of its zip archive after the file it
    writes to, so saving to a temporary name would put that random name into
    the file. Serialising into memory first gives every file the fixed archive
    name ``archive``: identical objects give byte-identical files, which users
    can compare by hash.
    """
    import torch  # here, so that the light users of this module (downloads) need not import torch
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    with atomic_path(destination) as temporary:
        temporary.write_bytes(buffer.getvalue())


@contextlib.contextmanager
def redirect_output(log_path: str | Path) -> Iterator[None]:
    """Send stdout and stderr (progress bars, warnings) to ``log_path`` inside the block."""
    log_path = Path(log_path)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "w") as log, contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
        try:
            yield
        except BaseException:
            traceback.print_exc()  # into the log, where a workflow user looks first
            raise
