"""``kiosk doctor``: check config, devices, broker, clock and storage; exit 1 if anything blocks."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from kiosk.cli import Commands, Context
from kiosk.cli.output import emit
from kiosk.doctor.findings import Options
from kiosk.doctor.run import blocking, render, run_checks


def register(commands: Commands) -> None:
    doctor = commands.add(
        "doctor", "self-check: config, camera, thermometer, broker, clock, disk, outbox", _doctor
    )
    doctor.add_argument(
        "--config", type=Path, default=Path("/etc/kiosk/kiosk.toml"), help="TOML config file"
    )
    doctor.add_argument("--json", action="store_true", help="print the results as JSON")
    doctor.add_argument(
        "--credentials",
        type=Path,
        help="folder of secrets named like the credentials "
        "(default $CREDENTIALS_DIRECTORY, else /etc/kiosk/credentials)",
    )
    doctor.add_argument("--no-probe", action="store_true", help="do not probe other protocols")
    doctor.add_argument(
        "--timeout", type=float, default=5.0, help="seconds each device may take (default 5)"
    )


def _doctor(args: argparse.Namespace, ctx: Context) -> int:
    if args.timeout <= 0:
        print("--timeout must be positive", file=sys.stderr)
        return 2
    options = Options(
        credentials=args.credentials,
        camera_s=args.timeout,
        thermometer_s=min(args.timeout, 3.0),
        probe=not args.no_probe,
        broker_s=args.timeout,
    )
    results = run_checks(args.config, ctx.stop, options)
    failed = blocking(results)
    if args.json:
        emit(
            {
                "config": str(args.config),
                "ready": not failed,
                "blocking": failed,
                "checks": [r.to_dict() for r in results],
            }
        )
    else:
        print(render(results, args.config), file=sys.stderr)
    return 1 if failed else 0
