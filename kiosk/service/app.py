"""Composition root: builds every adapter from the config, wires the queues, starts and
supervises the workers, and stops them in order (the uplink last, so it can flush)."""

from __future__ import annotations

import logging
import queue
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from kiosk import __version__
from kiosk.checkpoint import Signals
from kiosk.codes.verifier import Verifier
from kiosk.config import CameraSection, Config
from kiosk.coordinator import Coordinator
from kiosk.gate.gpio import gpio_opener
from kiosk.gate.signals import Gate, Opener
from kiosk.ledger import Ledger
from kiosk.manual import RegistrationDesk
from kiosk.model import Outcome, Reading, ScannedCode, SensorState, utc_iso
from kiosk.reasons import DEVICE_CAMERA, DEVICE_THERMOMETER, UPDATES_STALE, UPLINK_OFFLINE
from kiosk.scanner.base import FrameSource
from kiosk.scanner.factory import make_decoder, make_source
from kiosk.scanner.worker import ScanWorker
from kiosk.sensors.reader import ThermometerReader
from kiosk.service.status import KioskHealth, StatusBoard, WorkerHealth
from kiosk.service.supervisor import NoNotifier, Notifier, Supervisor, Worker
from kiosk.storage import StorageError
from kiosk.uplink.inbound import Inbound
from kiosk.uplink.publisher import Publisher
from kiosk.uplink.updates import CountyUpdates

logger = logging.getLogger(__name__)

FRAME_FRESH_S = 5.0  # a camera without a frame for this long is not delivering


SourceFactory = Callable[[CameraSection, threading.Event], FrameSource]
#: A supervised service beside the device workers (the web server): started with its own
#: stop event, watched for progress and restarted like them. Its unit is named after it.
ServiceFactory = Callable[[StatusBoard, Config, RegistrationDesk, threading.Event], Worker]


@dataclass
class Devices:
    """What to build the hardware-facing parts from; the demo swaps in simulated ones."""

    source: SourceFactory = make_source
    gate_opener: Opener | None = None  # None: real GPIO through gpiozero


class _CurrentGate:
    """The checkpoint's signals go to whichever gate worker is running now."""

    def __init__(self, supervisor: Supervisor) -> None:
        self._supervisor = supervisor

    def signal(self, outcome: Outcome) -> None:
        gate = self._supervisor.worker("gate")
        if isinstance(gate, Gate):
            gate.signal(outcome)


def web_service(
    board: StatusBoard, config: Config, desk: RegistrationDesk, stop: threading.Event
) -> Worker:
    """The kiosk screen, staff page (人工登记 through ``desk``) and health endpoints on
    ``[web] host:port``, started; a
    restart builds a fresh app (staff log in again)."""
    from kiosk.web.app import create_app
    from kiosk.web.server import WebServer

    app = create_app(board, config.ledger_path, config, desk=desk)
    web = config.web
    return WebServer(app, web.host, web.port, threads=web.threads, stop=stop).start()


def service_name(factory: ServiceFactory) -> str:
    """``web_service`` → ``web``: the unit's name in health, /healthz and the logs."""
    return getattr(factory, "__name__", "service").removesuffix("_service")


def device_notices(workers: tuple[WorkerHealth, ...], max_list_age_h: int) -> tuple[str, ...]:
    """The screen's banners from the workers' health: a camera or thermometer fault, an offline
    link, a stale revocation list (unless ``max_list_age_h`` is 0)."""
    by_name = {w.name: w for w in workers}
    notices = tuple(
        notice
        for name, notice in (("camera", DEVICE_CAMERA), ("thermometer", DEVICE_THERMOMETER))
        if name in by_name and not by_name[name].fresh
    )
    uplink = by_name.get("uplink")
    if uplink is not None and uplink.detail.get("connected") is False:
        notices += (UPLINK_OFFLINE,)
    updates = by_name.get("updates")
    if max_list_age_h and updates is not None and updates.detail.get("revocations_stale"):
        notices += (UPDATES_STALE,)
    return notices


class Kiosk:
    """The whole kiosk for one config. ``run()`` blocks until ``stop`` is set (returns 0) or
    a worker keeps stalling (returns non-zero for systemd). The constructor does no I/O.
    """

    def __init__(
        self,
        config: Config,
        stop: threading.Event,
        *,
        board: StatusBoard | None = None,
        notifier: Notifier | None = None,
        devices: Devices | None = None,
        services: tuple[ServiceFactory, ...] = (),
    ) -> None:
        self.config = config
        self.stop = stop
        self.board = board or StatusBoard()
        self._notifier = notifier or NoNotifier()
        self._devices = devices or Devices()
        self._service_factories = services
        self.supervisor: Supervisor | None = None
        self.desk: RegistrationDesk | None = None
        self._inbound: Inbound | None = None
        self._started_at = utc_iso(datetime.now(UTC))

    def run(self) -> int:
        cfg = self.config
        verifier = Verifier(cfg.verify, kiosk_id=cfg.kiosk.id)
        report = verifier.load()  # ConfigError for unreadable secrets: the service won't start
        for problem in report.problems:
            logger.warning("trust list: %s", problem)
        desk = self.desk = RegistrationDesk(verifier.hash_subject)
        codes: queue.Queue[ScannedCode] = queue.Queue(maxsize=cfg.scanner.queue_size)
        readings: queue.Queue[Reading] = queue.Queue(maxsize=256)
        status_ledger = Ledger(cfg.ledger_path)
        supervisor = Supervisor(
            cfg.service, self.stop, self.board, self._notifier,
            snapshot=lambda workers: self._snapshot(workers, status_ledger),
        )  # fmt: skip
        self.supervisor = supervisor

        def notify_uplink() -> None:
            uplink = supervisor.worker("uplink")
            if isinstance(uplink, Publisher):
                uplink.notify()

        if cfg.verify.updates.county_id is not None:
            inbound = self._inbound = Inbound(CountyUpdates.topics(cfg))
            supervisor.add("updates", lambda ev: CountyUpdates(cfg, verifier, inbound, ev).start())
        if cfg.uplink.enabled:
            supervisor.add("uplink", self._start_uplink)
        supervisor.add(
            "camera",
            lambda ev: ScanWorker(
                self._devices.source(cfg.camera, ev), make_decoder(cfg.scanner.decoder),
                codes, ev, source_name=cfg.camera.source,
                dedupe_window_s=cfg.scanner.dedupe_window_s,
                max_decode_hz=cfg.scanner.max_decode_hz,
            ).start(),
            ready=lambda h, _now: h.state == "running"
            and h.last_frame_age_s is not None and h.last_frame_age_s <= FRAME_FRESH_S,
        )  # fmt: skip
        supervisor.add(
            "thermometer",
            lambda ev: ThermometerReader(cfg.thermometer, readings, ev).start(),
            ready=lambda h, _now: h.state == SensorState.CONNECTED,
        )
        signals: Signals | None = None
        if cfg.gate.pins():
            supervisor.add(
                "gate",
                lambda ev: Gate(cfg.gate, ev, self._devices.gate_opener or gpio_opener()).start(),
                ready=lambda h, _now: h.state == "running",
            )
            signals = _CurrentGate(supervisor)
        supervisor.add(
            "checkpoint",
            lambda ev: Coordinator(
                cfg, self.board, verifier, codes, readings, ev,
                notify_uplink=notify_uplink, signals=signals, desk=desk,
            ).start(),
        )  # fmt: skip
        for factory in self._service_factories:
            supervisor.add(
                service_name(factory),
                lambda ev, make=factory: make(self.board, cfg, desk, ev),  # type: ignore[misc]
                ready=lambda h, _now: getattr(h, "state", None) != "stopped",  # thread died
            )
        supervisor.start()
        logger.info("kiosk %s at %s running (version %s)", cfg.kiosk.id, cfg.kiosk.site,
                    __version__)  # fmt: skip
        try:
            code = supervisor.run()
        finally:
            self.stop.set()
            supervisor.stop_all(order=("checkpoint", "uplink"))
            status_ledger.close()
        logger.info("kiosk stopped (exit %d)", code)
        return code

    def _start_uplink(self, stop: threading.Event) -> Worker:
        publisher = Publisher(self.config, stop, inbound=self._inbound)
        publisher.start()
        return publisher

    def _snapshot(self, workers: tuple[WorkerHealth, ...], ledger: Ledger) -> KioskHealth:
        """Health for the board: workers, outbox, disk (runs on the supervisor's thread)."""
        cfg = self.config
        try:
            outbox: dict[str, Any] = ledger.open().outbox_status().to_dict()
        except StorageError as exc:
            outbox = {"error": str(exc)}
        try:
            free: int | None = shutil.disk_usage(cfg.kiosk.state_dir).free
        except OSError:
            free = None
        self._update_notices(workers)
        return KioskHealth(
            kiosk=cfg.kiosk.id, site=cfg.kiosk.site, version=__version__,
            started_at=self._started_at, workers=workers, outbox=outbox,
            disk_free_bytes=free, updated_t=time.monotonic(),
        )  # fmt: skip

    def _update_notices(self, workers: tuple[WorkerHealth, ...]) -> None:
        """Banners on the kiosk screen for a camera or thermometer fault and an offline link."""
        notices = device_notices(workers, self.config.policy.max_list_age_h)
        if notices != self.board.screen().notices:
            self.board.show(notices=notices)
