"""The package README's Python quick start runs as written, and fits the 64 MiB
``/dev/shm`` a container gets by default (issue 20: its 256 MiB ring did not)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

import numpy as np
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


def _block(marker: str) -> str:
    readme = (REPO / "crates" / "shmkit-py" / "README.md").read_text()
    return next(b for b in re.findall(r"```python\n(.*?)```", readme, re.S) if marker in b)


def test_the_shared_value_examples_run(name, capsys):
    code = _block("Shared.open_or_create(").replace('"stats"', repr(name))
    repair = _block("except shmkit.OwnerDied")
    ns: dict = {}
    exec(code, ns)
    assert capsys.readouterr().out.strip() == "1"
    exec(repair, ns)  # nobody died: the plain lock, then the block
    with ns["stats"].lock(timeout=0) as s:
        assert int(s["frames"]) == 2
    ns["stats"].close()


def test_the_file_mapping_example_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    ns: dict = {}
    exec(_block("FileMapping.create("), ns)
    assert np.fromfile(tmp_path / "data.bin", dtype=np.float64)[:4].tolist() == [1, 2, 3, 4]
    assert ns["ro"].read_only


def test_the_repair_example_repairs_after_a_killed_holder(name):
    from test_shared import _kill_a_holder  # a child that dies holding the lock

    ns: dict = {}
    exec(_block("Shared.open_or_create(").replace('"stats"', repr(name)), ns)
    _kill_a_holder(name)  # left frames=99, half an update
    exec(_block("except shmkit.OwnerDied"), ns)
    assert ns["stats"].get().item() == (1, 0)
    ns["stats"].close()
