"""The demo's visitor script, like a real visitor, holds the phone up again when its code is
not read (a random pose can be too blurred or over-exposed to decode: seen in the demo as a
visitor with "nothing decided")."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from kiosk.demo import REPOSE_S, VISITORS, DemoRig, play_visitor
from kiosk.model import Outcome
from tests.integration.test_uplink import wait_until

pytestmark = pytest.mark.integration


def test_a_visitor_whose_code_is_not_read_shows_it_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rig = DemoRig(tmp_path)
    rig.build()
    stop = threading.Event()
    try:
        kiosk = rig.kiosk(stop, web=False)
        runner = threading.Thread(target=kiosk.run, name="kiosk")
        runner.start()
        assert wait_until(lambda: kiosk.board.health().fresh, 30), kiosk.board.health()
        shown: list[str | None] = []
        real_show = rig.show

        def show(text: str | None, colour: str = "green") -> None:
            shown.append(text)
            if text is not None and shown.count(text) == 1:  # held the wrong way: no phone
                rig.camera[-1].show(text, colour=colour, phone=False)
            else:
                real_show(text, colour)

        monkeypatch.setattr(rig, "show", show)
        green = VISITORS[0]
        seen = play_visitor(rig, kiosk, green, timeout=4 * REPOSE_S)
        assert seen.screen is not None and seen.screen.outcome is Outcome.PASS, seen.screen
        assert seen.ok
        codes = [t for t in shown if t is not None]
        assert len(codes) == 2 and codes[0] == codes[1]  # the same pass, shown once more
    finally:
        stop.set()
        runner.join(30)
        rig.close()
    assert not runner.is_alive()
