"""The voice clips: one per prompt, present in the package, decodable and not silent."""

from __future__ import annotations

import io
import math
import wave
from array import array
from pathlib import Path

import pytest

from kiosk.web import voice

PROMPTS = {
    "请出示健康码",
    "请测量体温",
    "体温正常，请通行",
    "禁止通行",
    "请联系工作人员",
    "请佩戴口罩",
}


def _wav(samples: list[int], rate: int = 16000) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(array("h", samples).tobytes())
    return out.getvalue()


@pytest.mark.parametrize(
    ("samples", "rms"),
    [
        ([0] * 100, 0.0),
        ([16384, -16384] * 50, 0.5),
        ([32767] * 10, 32767 / 32768),
        ([round(8000 * math.sin(i / 5)) for i in range(10_000)], 8000 / 32768 / math.sqrt(2)),
        ([], 0.0),
    ],
)
def test_wav_rms(samples: list[int], rms: float) -> None:
    assert voice.wav_rms(_wav(samples)) == pytest.approx(rms, abs=2e-3)


def test_every_prompt_has_a_clip_in_the_package() -> None:
    assert {c.text for c in voice.CLIPS} == PROMPTS
    assert voice.missing_clips() == []
    for clip in voice.CLIPS:
        data = voice.clip_path(clip.name).read_bytes()
        assert data[:4] == b"OggS" and b"\x01vorbis" in data[:64], clip.name
        assert 2_000 < len(data) < 64_000, clip.name  # short prompts, small files


@pytest.mark.parametrize("clip", voice.CLIPS, ids=voice.CLIP_NAMES)
def test_committed_clips_are_not_silent(clip: voice.Clip) -> None:
    rms = voice.decoded_rms(voice.clip_path(clip.name))  # decoded with oggdec
    assert rms > voice.MIN_RMS, (clip.name, rms)


def test_the_generator_builds_missing_clips_offline(tmp_path: Path) -> None:
    """espeak-ng (voice cmn) + oggenc, as bootstrap and install-pi.sh run it for a new prompt."""
    assert len(voice.missing_clips(tmp_path)) == len(voice.CLIPS)
    [written] = voice.build([voice.CLIPS[3]], tmp_path)
    assert written == tmp_path / "deny.ogg"
    assert voice.missing_clips(tmp_path) == [c for c in voice.CLIPS if c.name != "deny"]
    assert voice.decoded_rms(written) > voice.MIN_RMS
    # the committed clip is what the generator makes (fixed serial, no encoder comment)
    assert written.read_bytes() == voice.clip_path("deny").read_bytes()
