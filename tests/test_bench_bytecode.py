"""The benchmark imports the connector the way a scheduled run does after its first: from bytecode.

The measured runs write no bytecode, so without the harness's compile step every run compiled
the project's modules from source (about 0.1 s), which the baselines, importing what pip
compiled, never paid.
"""

from __future__ import annotations

import importlib.util
import struct
from pathlib import Path

from bench.harness import PROJECT_PACKAGES, precompile_project
from bench.simproc import PROJECT_ROOT


def _bytecode_matches(source: Path) -> bool:
    """Whether the interpreter would import `source` from its cached bytecode."""
    cached = Path(importlib.util.cache_from_source(str(source)))
    if not cached.exists():
        return False
    header = cached.read_bytes()[:16]
    flags, mtime, size = struct.unpack("<III", header[4:16])
    stat = source.stat()
    return (
        header[:4] == importlib.util.MAGIC_NUMBER
        and flags == 0
        and mtime == int(stat.st_mtime) & 0xFFFFFFFF
        and size == stat.st_size & 0xFFFFFFFF
    )


def test_every_project_module_is_imported_from_bytecode_after_the_compile_step() -> None:
    precompile_project()
    packages = [PROJECT_ROOT / package for package in PROJECT_PACKAGES]
    sources = [path for package in packages for path in package.rglob("*.py")]
    assert len(sources) > 40
    assert [path for path in sources if not _bytecode_matches(path)] == []
