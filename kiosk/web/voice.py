"""Voice prompts (语音播报): the Mandarin clips the kiosk screen plays, and how they are built.

The clips are synthesised offline with Debian's espeak-ng (voice ``cmn``) and encoded to Ogg
Vorbis with oggenc (vorbis-tools): never a network service. They are committed under
``kiosk/web/static/voice/`` as package data; ``kiosk web voice --if-missing`` (run by
scripts/bootstrap.sh and scripts/install-pi.sh) builds any that are missing, ``kiosk web voice``
rebuilds all of them, ``kiosk web voice --check`` decodes each and reports its loudness.
"""

from __future__ import annotations

import array
import io
import math
import shutil
import subprocess
import sys
import tempfile
import wave
from dataclasses import dataclass
from pathlib import Path

#: Where the screen's clips live (served at ``/static/voice/<name>.ogg``).
VOICE_DIR = Path(__file__).parent / "static" / "voice"
#: espeak-ng voice and speed (words per minute): Mandarin, a little slower than the default.
ESPEAK_VOICE = "cmn"
ESPEAK_SPEED = 150
#: A clip quieter than this RMS (full scale = 1.0) counts as silent.
MIN_RMS = 0.02


@dataclass(frozen=True)
class Clip:
    """One prompt: a stable name (file stem, what the page reports) and what it says."""

    name: str
    text: str


CLIPS = (
    Clip("show_code", "请出示健康码"),
    Clip("measure", "请测量体温"),
    Clip("pass", "体温正常，请通行"),
    Clip("deny", "禁止通行"),
    Clip("refer", "请联系工作人员"),
    Clip("mask", "请佩戴口罩"),
)
CLIP_NAMES = tuple(c.name for c in CLIPS)


def clip_path(name: str, directory: Path = VOICE_DIR) -> Path:
    return directory / f"{name}.ogg"


def missing_clips(directory: Path = VOICE_DIR) -> list[Clip]:
    return [c for c in CLIPS if not clip_path(c.name, directory).is_file()]


def wav_rms(data: bytes) -> float:
    """RMS of 16-bit PCM WAV audio, full scale = 1.0 (all channels together)."""
    with wave.open(io.BytesIO(data)) as wav:
        if wav.getsampwidth() != 2:
            raise ValueError("expected 16-bit PCM")
        frames = wav.readframes(wav.getnframes())
    samples = array.array("h")
    samples.frombytes(frames[: len(frames) // 2 * 2])
    if sys.byteorder != "little":
        samples.byteswap()
    if not samples:
        return 0.0
    return math.sqrt(sum(s * s for s in samples) / len(samples)) / 32768.0


def _tool(name: str, package: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise FileNotFoundError(f"{name} not found: apt install {package}")
    return found


def synthesise(clip: Clip) -> bytes:
    """The clip as WAV bytes from espeak-ng; ValueError if it came out silent."""
    espeak = _tool("espeak-ng", "espeak-ng")
    result = subprocess.run(  # noqa: S603 - fixed program, text from the table above
        [espeak, "-v", ESPEAK_VOICE, "-s", str(ESPEAK_SPEED), "--stdout", clip.text],
        capture_output=True,
        check=True,
        timeout=60,
    )
    if wav_rms(result.stdout) < MIN_RMS:
        raise ValueError(f"espeak-ng produced a silent clip for {clip.name}")
    return result.stdout


def build(clips: list[Clip] | tuple[Clip, ...] = CLIPS, directory: Path = VOICE_DIR) -> list[Path]:
    """Synthesise and encode ``clips`` into ``directory``; returns the files written."""
    oggenc = _tool("oggenc", "vorbis-tools")
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for clip in clips:
        with tempfile.NamedTemporaryFile(suffix=".wav") as wav:
            wav.write(synthesise(clip))
            wav.flush()
            target = clip_path(clip.name, directory)
            subprocess.run(  # noqa: S603 - fixed program and arguments
                # fixed stream serial and no encoder comment: the same input gives the same file
                [oggenc, "-Q", "-q", "2", "-s", "1", "--discard-comments", "-o", str(target),
                 wav.name],
                check=True,
                timeout=60,
            )  # fmt: skip
        written.append(target)
    return written


def decoded_rms(path: Path) -> float:
    """Decode an Ogg Vorbis clip with oggdec and measure its RMS (full scale = 1.0)."""
    oggdec = _tool("oggdec", "vorbis-tools")
    command = [oggdec, "-Q", "-b", "16", "-o", "-", str(path)]
    result = subprocess.run(command, capture_output=True, check=True, timeout=60)  # noqa: S603
    return wav_rms(result.stdout)
