"""Webhook targets and their message formats: plain JSON, 企业微信 (WeCom) group robot and
钉钉 (DingTalk) robot text messages. Pure functions; the sender is ``county.notify.worker``."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from county.config import Config, ConfigError
from county.config.desk import HOOK_LINE
from county.desk.alerts import Alert
from kiosk.confload import ConfigProblem
from kiosk.reasons import describe

PRESETS = ("json", "wecom", "dingtalk")


@dataclass(frozen=True)
class Hook:
    """One webhook; ``name`` is what the desk shows (never the URL: robot keys live there)."""

    preset: str
    url: str

    @property
    def name(self) -> str:
        parts = urlsplit(self.url)
        return f"{self.preset} {parts.scheme}://{parts.hostname}{parts.path[:24]}"


def load_hooks(config: Config) -> list[Hook]:
    """Hooks from ``[notify] webhooks`` and the lines of ``webhooks_file`` (blank and ``#``
    lines skipped); a bad line is a config error naming the file."""
    lines = list(config.notify.webhooks)
    path: Path | None = config.notify.webhooks_file
    if path is not None:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            problem = ConfigProblem(
                "notify.webhooks_file", f"cannot read: {exc.strerror}", str(path)
            )
            raise ConfigError([problem]) from exc
        for n, line in enumerate(text.splitlines(), 1):
            if line.strip() and not line.lstrip().startswith("#"):
                if not HOOK_LINE.fullmatch(line.strip()):
                    problem = ConfigProblem(
                        "notify.webhooks_file", f'line {n}: expected "PRESET URL"', str(path)
                    )
                    raise ConfigError([problem])
                lines.append(line)
    hooks = []
    for line in lines:
        match = HOOK_LINE.fullmatch(line.strip())
        assert match is not None  # noqa: S101 - checked by the config and above
        hooks.append(Hook(match.group(1), match.group(2)))
    return hooks


def summary(alert: Alert) -> str:
    """One human line in Chinese first: where, who (masked), why."""
    when = alert.ts.astimezone().strftime("%m-%d %H:%M:%S")
    if alert.kind == "fleet":
        return f"【设备失联】{alert.site} 终端 {alert.kiosk} 已失去联系（{when}）/ kiosk silent"
    reasons = "；".join(describe(r).zh for r in alert.reasons) or "—"
    temp = "" if alert.temperature_c is None else f"，体温 {alert.temperature_c:.1f}℃"
    name = alert.masked_name or "*"
    return (
        f"【异常报备】{alert.site} 终端 {alert.kiosk}：{name}{temp}，{reasons}（{when}）"
        f" / alert: {', '.join(alert.alerts)}"
    )


def body(preset: str, alert: Alert) -> bytes:
    """The POST body of ``preset`` for ``alert``: masked names only, never a raw code."""
    if preset == "wecom":  # 企业微信群机器人: {"msgtype": "text", "text": {"content": ...}}
        doc: dict[str, object] = {"msgtype": "text", "text": {"content": summary(alert)}}
    elif preset == "dingtalk":  # 钉钉自定义机器人: the same shape
        doc = {"msgtype": "text", "text": {"content": summary(alert)}}
    else:
        doc = {"schema": 1, "type": "alert", "text": summary(alert), "alert": alert.to_dict()}
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()


def accepted(preset: str, status: int, reply: bytes) -> tuple[bool, str]:
    """Did the receiver take it? Robots answer 200 with ``errcode`` 0 on success."""
    if not 200 <= status < 300:
        return False, f"HTTP {status}"
    if preset in ("wecom", "dingtalk"):
        try:
            doc = json.loads(reply or b"{}")
        except ValueError:
            return False, "reply is not JSON"
        code = doc.get("errcode", 0) if isinstance(doc, dict) else 0
        if code != 0:
            return False, f"errcode {code}: {str(doc.get('errmsg', ''))[:80]}"
    return True, ""
