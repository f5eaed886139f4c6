"""Shared fixtures: unique names that are removed even when a test fails, child
interpreters, and the `shmkit` CLI as a Rust peer."""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import shmkit

_counter = itertools.count()
REPO = Path(__file__).resolve().parents[3]
# Guards against hangs only: no test asserts a duration.
HANG = 60


def unique(prefix: str = "py") -> str:
    """A name no other test (or concurrent test run) uses: prefix, pid and a counter."""
    return f"{prefix}-{os.getpid()}-{next(_counter)}"


@pytest.fixture
def names():
    """Makes unique names and removes every one of them at the end, whatever happened."""
    made: list[str] = []

    def make(prefix: str = "py") -> str:
        n = unique(prefix)
        made.append(n)
        return n

    yield make
    # With the objects a kind names after its own (a service's per-client rings `NAME.q0`,
    # ...), which a killed server cannot remove.
    listed = [info["name"] for info in shmkit.list()]
    for n in made:
        for m in [n, *(x for x in listed if x.startswith(n + "."))]:
            try:
                shmkit.remove(m)
            except shmkit.NotFound:
                pass


@pytest.fixture
def name(names) -> str:
    """One unique name, removed at the end."""
    return names()


def child(code: str, *args: str, **kw) -> subprocess.Popen:
    """Starts an unrelated interpreter running `code` (dedented) with `args` in sys.argv."""
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kw,
    )


def finish(p: subprocess.Popen) -> str:
    """Waits for a child started with `child`; fails with its stderr unless it exits 0."""
    out, err = p.communicate(timeout=HANG)
    assert p.returncode == 0, f"child exited {p.returncode}:\n{err}"
    return out


def _find_cli() -> str | None:
    env = os.environ.get("SHMKIT_CLI")
    if env:
        return env
    for profile in ("debug", "release"):
        p = REPO / "target" / profile / "shmkit"
        if p.exists():
            return str(p)
    return shutil.which("shmkit")


@pytest.fixture(scope="session")
def cli() -> str:
    """The `shmkit` CLI binary (SHMKIT_CLI, target/{debug,release}/shmkit, or PATH)."""
    path = _find_cli()
    if path is None:
        pytest.skip("the shmkit CLI is not built (cargo build -p shmkit-cli)")
    return path
