"""The package README's Python quick start runs as written, and fits the 64 MiB
``/dev/shm`` a container gets by default (issue 20: its 256 MiB ring did not)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

import pytest

import shmkit
from conftest import HANG, REPO

# Docker's default --shm-size.
CONTAINER_DEV_SHM = 64 << 20


def quick_start(name: str) -> str:
    """The package README's numpy channel example, using ``name`` instead of ``"frames"``."""
    readme = (REPO / "crates" / "shmkit-py" / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", readme, re.S)
    code = next(b for b in blocks if "shmkit.channel.create_producer(" in b)
    assert '"frames"' in code
    return code.replace('"frames"', repr(name))


def test_the_python_quick_start_runs_and_its_ring_fits_a_container(name, capsys):
    ns: dict = {}
    exec(quick_start(name), ns)
    try:
        size = shmkit.inspect(name)["size"]
        assert size <= CONTAINER_DEV_SHM, f"a {size >> 20} MiB ring"
        assert abs(float(capsys.readouterr().out) - 0.5) < 0.01  # the mean of rand()
    finally:
        ns["rx"].close()
        ns["tx"].close()


def test_the_python_quick_start_runs_in_a_64_mib_dev_shm(name):
    # A private tmpfs of the container's size at /dev/shm, in a mount namespace (root only).
    mount = f"mount -t tmpfs -o size={CONTAINER_DEV_SHM} tmpfs /dev/shm"
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("needs root and unshare to mount a 64 MiB /dev/shm")
    if subprocess.run(["unshare", "-m", "sh", "-c", mount], capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs in a new mount namespace here")
    script = f'{mount} && exec "$0" -c "$1"'  # $0: this interpreter, $1: the code
    p = subprocess.run(
        ["unshare", "-m", "sh", "-c", script, sys.executable, quick_start(name)],
        capture_output=True,
        text=True,
        timeout=HANG,
    )
    assert p.returncode == 0, p.stderr
