"""Is the system clock synchronised? Asks timedatectl, timesyncd's flag file and the kernel.

A Pi has no battery clock (the Pi 5's is optional): after a power cut it boots with the time
of its last shutdown until NTP answers. Meanwhile TLS certificates may look not yet valid or
expired, and passes are judged against the wrong time.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

#: Written by systemd-timesyncd once it has synchronised the clock (since systemd 239).
TIMESYNC_FLAG = Path("/run/systemd/timesync/synchronized")

#: The clock cannot be earlier than this: this release was written after it.
RELEASE_FLOOR = datetime(2026, 11, 1, tzinfo=UTC)

TIME_ERROR = 5  # adjtimex(2) return value: the clock is not synchronised
STA_UNSYNC = 0x0040


@dataclass(frozen=True)
class KernelClock:
    """What adjtimex(2) says: its return value, the status bits and the maximum error."""

    state: int
    status: int
    maxerror_s: float

    @property
    def synchronized(self) -> bool:
        return self.state != TIME_ERROR and not self.status & STA_UNSYNC


@dataclass(frozen=True)
class ClockReport:
    """Every source's answer (None = could not ask) and the time it was asked at."""

    timedatectl: bool | None
    timesync_flag: bool | None
    kernel: KernelClock | None
    now: datetime

    @property
    def synchronized(self) -> bool | None:
        """True if any source says so, False if every source that answered says not."""
        answers = [self.timedatectl, self.timesync_flag]
        answers.append(None if self.kernel is None else self.kernel.synchronized)
        known = [a for a in answers if a is not None]
        if not known:
            return None
        return any(known)

    def sources(self) -> str:
        def word(value: bool | None) -> str:
            return "unknown" if value is None else ("yes" if value else "no")

        kernel = None if self.kernel is None else self.kernel.synchronized
        return (
            f"timedatectl {word(self.timedatectl)}, timesyncd {word(self.timesync_flag)}, "
            f"kernel {word(kernel)}"
        )


def ask_timedatectl(timeout: float = 3.0) -> bool | None:
    """``timedatectl show -p NTPSynchronized`` (None without systemd or D-Bus)."""
    try:
        done = subprocess.run(
            ["timedatectl", "show", "-p", "NTPSynchronized", "--value"],  # noqa: S607
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    answer = done.stdout.strip()
    if done.returncode != 0 or answer not in ("yes", "no"):
        return None
    return answer == "yes"


def timesync_flag(flag: Path = TIMESYNC_FLAG) -> bool | None:
    """True when timesyncd's flag exists, False when timesyncd runs but has not set it."""
    if flag.exists():
        return True
    return False if flag.parent.is_dir() else None


class _Timeval(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_usec", ctypes.c_long)]


class _Timex(ctypes.Structure):
    """``struct timex`` of <sys/timex.h> (Linux, native long and time_t)."""

    _fields_ = [
        ("modes", ctypes.c_uint),
        ("offset", ctypes.c_long),
        ("freq", ctypes.c_long),
        ("maxerror", ctypes.c_long),
        ("esterror", ctypes.c_long),
        ("status", ctypes.c_int),
        ("constant", ctypes.c_long),
        ("precision", ctypes.c_long),
        ("tolerance", ctypes.c_long),
        ("time", _Timeval),
        ("tick", ctypes.c_long),
        ("ppsfreq", ctypes.c_long),
        ("jitter", ctypes.c_long),
        ("shift", ctypes.c_int),
        ("stability", ctypes.c_long),
        ("jitcnt", ctypes.c_long),
        ("calcnt", ctypes.c_long),
        ("errcnt", ctypes.c_long),
        ("stbcnt", ctypes.c_long),
        ("tai", ctypes.c_int),
        ("_reserved", ctypes.c_int * 11),
    ]


def ask_kernel() -> KernelClock | None:
    """adjtimex(2) with ``modes = 0`` (read only, no privilege needed); None off Linux/glibc."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name or "libc.so.6", use_errno=True)
        adjtimex = libc.adjtimex
    except (OSError, AttributeError):
        return None
    adjtimex.argtypes = [ctypes.POINTER(_Timex)]
    adjtimex.restype = ctypes.c_int
    tx = _Timex()
    state = adjtimex(ctypes.byref(tx))
    if state < 0:
        return None
    return KernelClock(state=state, status=tx.status, maxerror_s=tx.maxerror / 1_000_000)


def report(now: datetime | None = None) -> ClockReport:
    """Ask every source now."""
    return ClockReport(
        timedatectl=ask_timedatectl(),
        timesync_flag=timesync_flag(),
        kernel=ask_kernel(),
        now=now or datetime.now(UTC),
    )
