"""Entry point of the ``county`` command and of ``python -m county``."""

from __future__ import annotations

import sys

from county.cli import main as _main


def main() -> None:
    sys.exit(_main(sys.argv[1:]))


if __name__ == "__main__":
    main()
