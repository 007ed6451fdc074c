"""Entry point of the ``kiosk`` command and of ``python -m kiosk``."""

from __future__ import annotations

import sys

from kiosk.cli import main as _main


def main() -> None:
    sys.exit(_main(sys.argv[1:]))


if __name__ == "__main__":
    main()
