"""The demo: the whole kiosk on simulated devices, with a scripted stream of visitors.

A synthetic camera shows each visitor's phone, the thermometer simulator plays a matching
scenario over a real pty, passes are issued with a demo county key, and a local mosquitto
(when installed) stands in for the county broker. Used by ``kiosk demo``, the end-to-end tests
and the latency benchmark.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from werkzeug.security import generate_password_hash

from kiosk.codes import county, revocation
from kiosk.codes.keys import IssuerKey, generate, load_issuer
from kiosk.config import CameraSection, Config, parse
from kiosk.demo_county import CountySide
from kiosk.gate.sim import SimulatedOutputs
from kiosk.model import CodeStatus, Itinerary, ItineraryStatus, Outcome, PassClaims
from kiosk.sensors.simulator import ThermometerSimulator
from kiosk.service.app import Devices, Kiosk, ServiceFactory, web_service
from kiosk.service.status import Phase, Screen
from kiosk.uplink.localbroker import LocalBroker, free_port, mosquitto_binary
from kiosk.uplink.oneshot import publish_retained
from kiosk.uplink.updates import REVOCATIONS, store_list
from kiosk.uplink.wire import CountyTopics

if TYPE_CHECKING:  # OpenCV (the synthetic camera) is imported when the demo starts
    from kiosk.scanner.synthetic import SyntheticSource

logger = logging.getLogger(__name__)

ISSUER = "330106"  # a county code; the demo's own key signs for it
REVOKED_SUBJECT = "demo-revoked-subject-0001"  # on the demo county's revocation list
REPOSE_S = 4.0  # a visitor whose code is not read within this shows the phone again


@dataclass(frozen=True)
class Visitor:
    """One scripted visitor: what the phone shows, what the thermometer sees, what must happen."""

    label: str
    kind: str  # green, yellow, red, expired, forged, unknown, starred (itinerary card)
    scenario: str  # thermometer simulator scenario
    expect: Outcome
    expect_reason: str | None
    colour: str = "green"


VISITORS: tuple[Visitor, ...] = (
    Visitor("绿码 green pass", "green", "visitor:36.3", Outcome.PASS, None),
    Visitor("黄码 yellow pass", "yellow", "visitor:36.4", Outcome.DENY, "code.yellow", "yellow"),
    Visitor("红码 red pass", "red", "visitor:36.2", Outcome.DENY, "code.red", "red"),
    Visitor(
        "行程卡带星号 starred itinerary",
        "starred",
        "visitor:36.4",
        Outcome.REFER,
        "itinerary.starred",
    ),
    Visitor("过期 expired pass", "expired", "visitor:36.5", Outcome.DENY, "code.expired"),
    Visitor("伪造 forged pass", "forged", "visitor:36.4", Outcome.REFER, "code.unknown_key"),
    Visitor("撤销 revoked pass", "revoked", "visitor:36.4", Outcome.DENY, "code.revoked"),
    Visitor(
        "无关二维码 unknown QR",
        "unknown",
        "visitor:36.3",
        Outcome.REFER,
        "code.unknown_format",
        "other",
    ),
    Visitor("发热 fever", "green", "fever", Outcome.DENY, "temp.fever"),
    Visitor("未测温 no temperature", "green", "idle", Outcome.REFER, "temp.not_ready"),
)


@dataclass
class Seen:
    """What happened to one visitor."""

    visitor: Visitor
    screen: Screen | None

    @property
    def ok(self) -> bool:
        s = self.screen
        return (
            s is not None
            and s.outcome == self.visitor.expect
            and (self.visitor.expect_reason is None or self.visitor.expect_reason in s.reasons)
        )


class PassDesk:
    """Issues demo passes: the trusted county key, and an untrusted one for forgeries."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        now = datetime.now(UTC)
        self.trust_dir = directory / "trust"
        self.trust_dir.mkdir(exist_ok=True)
        self._key = self._make(directory / "county.pem", now, trusted=True)
        self._forger = self._make(directory / "forger.pem", now, trusted=False)
        self._serial = itertools.count(1)

    def _make(self, path: Path, now: datetime, *, trusted: bool) -> IssuerKey:
        key_pem, cert_pem = generate(ISSUER, "ES256", now - timedelta(days=90), 365)
        path.write_bytes(key_pem + cert_pem)
        path.chmod(0o600)
        if trusted:
            (self.trust_dir / f"{ISSUER}.crt").write_bytes(cert_pem)
        return load_issuer(path)

    def code_for(self, kind: str) -> str:
        """The QR text a visitor of ``kind`` shows; a new one every call."""
        n = next(self._serial)
        if kind == "unknown":
            return f"https://shop.example/menu?table={n}"
        now = datetime.now(UTC)
        status = {"yellow": CodeStatus.YELLOW, "red": CodeStatus.RED}.get(kind, CodeStatus.GREEN)
        expires = now - timedelta(days=1) if kind == "expired" else now + timedelta(days=30)
        subject = hashlib.sha256(f"demo-subject-{n}".encode()).hexdigest()[:32]
        claims = PassClaims(
            issuer=ISSUER,
            subject_key=REVOKED_SUBJECT if kind == "revoked" else subject,
            masked_name=["张*中", "李*", "王*明", "欧**明"][n % 4],
            status=status,
            status_updated_at=now - timedelta(hours=2),
            issued_at=now - timedelta(days=40 if kind == "expired" else 1),
            expires_at=expires,
            test_at=now - timedelta(hours=20),
            test_result="negative",
            vaccine_doses=3,
            # 两码合一: the itinerary card rides on the pass (claim "it", spec 1.1)
            itinerary=Itinerary(
                ItineraryStatus.STARRED if kind == "starred" else ItineraryStatus.NORMAL,
                (now - timedelta(hours=3)).replace(microsecond=0),
            ),
        )
        return county.issue(claims, self._forger if kind == "forged" else self._key)

    def revocations(self, now: datetime) -> bytes:
        """The demo county's signed revocation list: every pass of ``REVOKED_SUBJECT`` issued
        before ``now`` is revoked."""
        salt = revocation.new_salt()
        entry = revocation.subject_entry(salt, ISSUER, REVOKED_SUBJECT)
        return revocation.build(self._key, salt, {entry: int(now.timestamp())}, now)


@dataclass
class DemoRig:
    """Everything simulated that the kiosk talks to, built in ``workdir``."""

    workdir: Path
    http_port: int | None = None
    broker: LocalBroker | None = None
    simulator: ThermometerSimulator | None = None
    desk: PassDesk | None = None
    camera: list[SyntheticSource] = field(default_factory=list)
    config: Config | None = None
    staff_password: str = field(default_factory=lambda: secrets.token_urlsafe(9))
    county: CountySide | None = None  # set before build() to run the county's end as well

    def build(self, *, extra: dict[str, Any] | None = None) -> Config:
        """Start the simulator and broker, write keys, return the kiosk's config."""
        self.desk = PassDesk(self.workdir / "passes")
        (self.workdir / "subject.key").write_bytes(secrets.token_bytes(32))
        self.simulator = ThermometerSimulator("gy-mcu90614", link=self.workdir / "ttyTHERMO")
        port_path = self.simulator.start()
        if mosquitto_binary():
            self.broker = LocalBroker(self.workdir / "broker").start()
        mqtt_port = self.broker.port if self.broker else free_port()
        if self.county is not None:
            self.county.broker_port = mqtt_port
            self.county.build()
            (self.workdir / "subject.key").write_bytes(self.county.kiosk_key("k-demo"))
        values: dict[str, Any] = {
            "kiosk": {
                "id": "k-demo",
                "site": "demo-site",
                "state_dir": str(self.workdir / "state"),
            },
            "uplink": {
                "port": mqtt_port,
                "topic_prefix": "county/demo",
                "reconnect_max_s": 2,
                # with the county's ingest behind the broker, follow its receipts: what the
                # broker loses in the outage is re-sent from the ledger
                "receipts": self.county is not None,
                "resend_after_s": 3,
            },
            "camera": {"source": "synthetic", "fps": 10},
            "thermometer": {"protocol": "gy-mcu90614", "port": port_path, "offset_c": 0.4},
            "verify": {
                "county_trust": [str(self.desk.trust_dir)],
                "subject_key_file": str(self.workdir / "subject.key"),
                "updates": {"county_id": ISSUER},
            },
            "checkpoint": {"measure_timeout_s": 6, "dwell_s": 3, "min_dwell_s": 1},
            "web": {
                "port": self.http_port or free_port(),
                "staff_password_hash": generate_password_hash(self.staff_password),
                "venue_code": "https://venue.county.example/c/demo-site",
                "venue_name": "演示社区 demo community",
            },
            # the gate runs on simulated GPIO outputs: a PASS pulses the (pretend) relay
            "gate": {"relay_pin": 17, "buzzer_pin": 27, "led_pass_pin": 22, "led_deny_pin": 23},
        }
        for section, table in (extra or {}).items():
            values.setdefault(section, {}).update(table)
        self.config = parse(values, source="demo")
        self._publish_revocations(self.config)
        return self.config

    def _publish_revocations(self, config: Config) -> None:
        """The county's revocation list: kept in the kiosk's ledger file as if received before
        (so the demo works without mosquitto) and, with a broker, published retained."""
        assert self.desk is not None  # noqa: S101
        now = datetime.now(UTC).replace(microsecond=0)
        signed = self.desk.revocations(now)
        store_list(config.ledger_path, REVOCATIONS, ISSUER, int(now.timestamp()), signed, now)
        if self.broker is not None:
            topic = CountyTopics(config.uplink.topic_prefix, ISSUER).revocations
            publish_retained("127.0.0.1", self.broker.port, topic, signed, client_id="demo-county")

    def source(self, camera: CameraSection, stop: threading.Event) -> SyntheticSource:
        """The kiosk's camera factory: a synthetic camera the script can point at phones."""
        from kiosk.scanner.synthetic import SyntheticSource

        src = SyntheticSource(stop, camera.width, camera.height, camera.fps, camera.synthetic_seed)
        self.camera.append(src)
        return src

    def show(self, text: str | None, colour: str = "green") -> None:
        if self.camera:
            self.camera[-1].show(text, colour=colour, code_px=220)

    def kiosk(self, stop: threading.Event, *, web: bool = True) -> Kiosk:
        """The kiosk on the simulated devices, with its web screen unless ``web`` is False."""
        assert self.config is not None  # noqa: S101 - build() first
        devices = Devices(source=self.source, gate_opener=SimulatedOutputs())
        services: tuple[ServiceFactory, ...] = (web_service,) if web else ()
        return Kiosk(self.config, stop, devices=devices, services=services)

    def close(self) -> None:
        if self.county is not None:
            self.county.stop()
        if self.simulator is not None:
            self.simulator.stop()
        if self.broker is not None:
            self.broker.stop()


def play_visitor(rig: DemoRig, kiosk: Kiosk, visitor: Visitor, *, timeout: float = 20.0,
                 code_delay_s: float = 1.0) -> Seen:  # fmt: skip
    """Script one visitor and return the decided screen (``None`` if nothing was decided)."""
    assert rig.simulator is not None and rig.desk is not None  # noqa: S101
    board = kiosk.board
    _wait_for(board.screen, lambda s: s.phase == Phase.IDLE, timeout)
    before = board.screen().version
    rig.simulator.play(visitor.scenario)
    time.sleep(code_delay_s)
    code = rig.desk.code_for(visitor.kind)
    rig.show(code, visitor.colour)
    shown = time.monotonic()
    deadline = shown + timeout
    decided = None
    version = before
    while time.monotonic() < deadline and not kiosk.stop.is_set():
        screen = board.wait_screen(version, min(0.5, deadline - time.monotonic()))
        version = screen.version
        if screen.phase == Phase.DECIDED:
            decided = screen
            break
        if screen.phase == Phase.IDLE and time.monotonic() - shown >= REPOSE_S:
            # the code was not read (a random pose can be too blurred, tilted or over-exposed
            # to decode, as a real one can): the visitor holds the phone up again, another
            # way, and steps up to the thermometer again
            logger.info("%s: code not read in %.0f s, shown again", visitor.label, REPOSE_S)
            rig.simulator.play(visitor.scenario)
            rig.show(code, visitor.colour)
            shown = time.monotonic()
    rig.show(None)
    rig.simulator.play("idle")
    return Seen(visitor, decided)


def _wait_for(get: Callable[[], Screen], ok: Callable[[Screen], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not ok(get()) and time.monotonic() < deadline:
        time.sleep(0.05)


def visitors(count: int | None = None) -> Iterator[Visitor]:
    """The demo visitors in turn, for ever or ``count`` of them."""
    stream = itertools.cycle(VISITORS)
    return stream if count is None else itertools.islice(stream, count)
