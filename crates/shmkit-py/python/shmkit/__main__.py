"""``python -m shmkit ARGS``: the ``shmkit`` command line (``python -m shmkit --help``).

The same program as the ``shmkit`` binary, run in this process: ``ls``, ``info``, ``top``,
``publish``, ``subscribe``, ``record``, ``replay``, ... A wheel also installs it as the
``shmkit`` script, so no Rust toolchain is needed to have the CLI.
"""

import signal
import sys

from . import _shmkit


def main() -> int:
    """Runs the command line with ``sys.argv[1:]``; returns its exit status."""
    # Python's own SIGINT handler only sets a flag for Python code, which does not run while
    # the command does: give Ctrl-C back its default (the command installs its own handler
    # where it has something to clean up), as the binary has it.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    return _shmkit.cli(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
