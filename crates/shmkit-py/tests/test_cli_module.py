"""``python -m shmkit`` and the ``shmkit`` script the package installs: the command line,
from the package alone, in a process of its own."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import shmkit


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "shmkit", *args], capture_output=True, text=True, timeout=60
    )


def test_info_of_a_segment_made_here(name):
    seg = shmkit.Segment.create(name, 4096)
    out = run("info", name, "--json")
    assert out.returncode == 0, out.stderr
    info = json.loads(out.stdout)
    assert (info["name"], info["size"], info["kind"]) == (name, 4096, "raw")
    del seg


def test_a_bad_command_line_is_status_2_with_the_usage():
    out = run("no-such-command")
    assert out.returncode == 2
    assert "Usage: shmkit" in out.stderr


def test_a_failure_is_status_1_with_one_line():
    out = run("info", "shmkit-no-such-name-at-all")
    assert out.returncode == 1
    assert out.stderr.startswith("shmkit: ") and out.stderr.count("\n") == 1, out.stderr


def test_the_package_installs_the_shmkit_script():
    # Beside the interpreter, as pip puts a package's scripts (in a venv: its bin/).
    script = Path(sys.executable).parent / ("shmkit.exe" if os.name == "nt" else "shmkit")
    if not script.exists():
        script = shutil.which("shmkit")
    assert script, "no shmkit script installed"
    out = subprocess.run([str(script), "--version"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.startswith("shmkit "), out
