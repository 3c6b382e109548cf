"""Settings for the whole test run (unit and integration)."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path


def _private_cache_dir() -> Path | None:
    """A per-user directory in the temp dir that only this user can write (None if it is not)."""
    getuid = getattr(os, "getuid", None)
    if getuid is None:
        return None
    root = Path(tempfile.gettempdir()) / f"vcluster-tests-pycache-{getuid()}"
    try:
        root.mkdir(mode=0o700, exist_ok=True)
        st = root.stat()
    except OSError:
        return None
    if st.st_uid != getuid() or st.st_mode & 0o077:
        return None  # not ours alone: do not run bytecode others could have written
    return root


def _keep_bytecode_out_of_tree() -> None:
    """With PYTHONDONTWRITEBYTECODE set, every Python process of a run compiles the package from
    source again: each xdist worker's collection (~6 s) and each of the ~200 `vcluster` servers and
    CLI calls the integration tests start (~0.3 s each). Keep the bytecode instead, in a cache
    directory outside the source tree (PYTHONPYCACHEPREFIX), which is what not writing it keeps
    clean. Set in this process (collection) and inherited by every process it starts. An explicit
    PYTHONPYCACHEPREFIX, or an environment that writes bytecode anyway, is left as it is."""
    if not os.environ.get("PYTHONDONTWRITEBYTECODE") or os.environ.get("PYTHONPYCACHEPREFIX"):
        return
    cache = _private_cache_dir()
    if cache is None:
        return
    del os.environ["PYTHONDONTWRITEBYTECODE"]
    os.environ["PYTHONPYCACHEPREFIX"] = str(cache)
    sys.pycache_prefix = str(cache)
    sys.dont_write_bytecode = False


_keep_bytecode_out_of_tree()
