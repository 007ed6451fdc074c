"""``kiosk scan`` as a user runs it: a real process, real files, JSON lines on stdout."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import pytest

from kiosk.scanner.render import Scene, render

pytestmark = pytest.mark.integration


def kiosk(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kiosk", *args], capture_output=True, text=True, timeout=120
    )


def test_scan_walks_folders_and_reports_unreadable_files(tmp_path: Path, corpus: Path) -> None:
    text = "https://hc.example.gov.cn/v?c=cli-yellow"
    cv2.imwrite(str(tmp_path / "phone.jpg"), render(Scene(text=text, colour="yellow", seed=8)))
    cv2.imwrite(str(tmp_path / "empty.webp"), render(Scene(text=None, seed=8)))
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    (tmp_path / "notes.txt").write_text("not a picture, not walked")
    photo = corpus / "zxing-qrcode-3" / "01.png"
    result = kiosk("scan", str(tmp_path), str(photo), str(tmp_path / "missing.bmp"))
    assert result.returncode == 1, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    by_name = {Path(doc["file"]).name: doc for doc in lines}
    assert list(by_name) == ["broken.png", "empty.webp", "phone.jpg", "01.png", "missing.bmp"]
    assert by_name["phone.jpg"]["codes"] == [{"text": text, "format": "QRCode", "colour": "yellow"}]
    assert by_name["empty.webp"]["codes"] == [] and by_name["empty.webp"]["ms"] >= 0
    expected = (corpus / "zxing-qrcode-3" / "01.txt").read_bytes().decode()
    assert [c["text"] for c in by_name["01.png"]["codes"]] == [expected]
    assert "not a picture" in by_name["broken.png"]["error"]
    assert "No such file" in by_name["missing.bmp"]["error"]
    assert "error" not in by_name["phone.jpg"]
    assert "broken.png" in result.stderr


@pytest.mark.parametrize("decoder", ["zxing", "pyzbar"])
def test_scan_with_one_library(tmp_path: Path, decoder: str) -> None:
    text = "https://hc.example.gov.cn/v?c=cli-black"
    cv2.imwrite(str(tmp_path / "a.png"), render(Scene(text=text, colour="black", seed=9)))
    result = kiosk("scan", "--decoder", decoder, str(tmp_path / "a.png"))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["codes"][0]["text"] == text


def test_scan_usage_errors() -> None:
    assert kiosk("scan").returncode == 2
    assert kiosk("scan", "--decoder", "opencv", "x.png").returncode == 2
