"""The ``[web]`` section: defaults, checks that name the key, secrets, env overrides."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from werkzeug.security import check_password_hash

from kiosk.config import ConfigError, load, parse
from kiosk.web.app import _session_secret
from tests.helpers import REPO
from tests.web_support import PASSWORD_HASH


def test_defaults() -> None:
    web = parse({}).web
    assert (web.host, web.port) == ("127.0.0.1", 8080)
    assert web.cookie_secure is True
    assert web.staff_password_hash is None
    assert (web.language, web.timezone) == ("zh", "Asia/Shanghai")
    assert web.sse_max_streams <= web.threads - 2


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"timezone": "Mars/Olympus"}, 'web.timezone: unknown time zone "Mars/Olympus"'),
        ({"timezone": "../etc/passwd"}, "web.timezone: unknown time zone"),
        ({"language": "fr"}, 'web.language: expected one of "zh", "en", got "fr"'),
        ({"port": 0}, "web.port: expected an integer 1-65535, got 0"),
        ({"staff_password_hash": "hunter2"}, "web.staff_password_hash: expected a password hash"),
        ({"threads": 4, "sse_max_streams": 3}, "web.sse_max_streams (3) must leave two"),
        (
            {"session_secret_file": "/a", "session_secret_credential": "b"},
            "give web.session_secret_file or web.session_secret_credential",
        ),
        ({"sse_stream_s": 0.1}, "web.sse_stream_s: expected a number 1-3600, got 0.1"),
    ],
)
def test_bad_values_name_the_key(values: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse({"web": values}, source="kiosk.toml")
    assert message in str(caught.value)
    assert "(kiosk.toml)" in str(caught.value)


def test_real_hashes_are_accepted() -> None:
    assert parse({"web": {"staff_password_hash": PASSWORD_HASH}}).web.staff_password_hash


def test_hash_is_masked_in_config_check() -> None:
    shown = parse({"web": {"staff_password_hash": PASSWORD_HASH}}).describe()
    assert shown["web"]["staff_password_hash"] == "********"


def test_env_overrides(tmp_path: Path) -> None:
    path = tmp_path / "kiosk.toml"
    path.write_text('[web]\nport = 8081\nvenue_code = "V-1"\n', encoding="utf-8")
    config = load(path, environ={"KIOSK_WEB__PORT": "9090", "KIOSK_WEB__COOKIE_SECURE": "false"})
    assert (config.web.port, config.web.cookie_secure, config.web.venue_code) == (
        9090,
        False,
        "V-1",
    )


def test_session_secret_from_a_file_or_a_credential(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = tmp_path / "session_secret"
    secret.write_text("s3cret-s3cret-s3cret\n", encoding="utf-8")
    config = parse({"web": {"session_secret_file": str(secret)}})
    assert _session_secret(config) == b"s3cret-s3cret-s3cret"
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path))
    config = parse({"web": {"session_secret_credential": "session_secret"}})
    assert _session_secret(config) == b"s3cret-s3cret-s3cret"


def test_without_a_secret_each_start_gets_a_random_one() -> None:
    config = parse({})
    first, second = _session_secret(config), _session_secret(config)
    assert len(first) == 32 and first != second


def test_unreadable_secret_names_the_key(tmp_path: Path) -> None:
    config = parse({"web": {"session_secret_file": str(tmp_path / "missing")}})
    with pytest.raises(ConfigError) as caught:
        _session_secret(config)
    assert "web.session_secret_file: cannot read secret" in str(caught.value)


def _hash_cli(stdin: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kiosk", "web", "hash-password", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
        check=False,
    )


def test_hash_password_command_prints_a_hash_that_checks() -> None:
    done = _hash_cli("门卫 password 1\n", "--method", "pbkdf2")
    assert done.returncode == 0, done.stderr
    stored = json.loads(done.stdout)["staff_password_hash"]
    assert check_password_hash(stored, "门卫 password 1")
    assert not check_password_hash(stored, "门卫 password 2")
    assert parse({"web": {"staff_password_hash": stored}}).web.staff_password_hash == stored


def test_hash_password_refuses_a_short_password() -> None:
    done = _hash_cli("short\n")
    assert done.returncode == 1
    assert "at least 8 characters" in done.stderr
    assert done.stdout == ""
