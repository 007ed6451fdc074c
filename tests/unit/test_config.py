"""Config: defaults, types, limits, env overrides and messages that name the key and source."""

from __future__ import annotations

from pathlib import Path

import pytest

from kiosk.config import Config, ConfigError, load, parse, read_secret


def test_defaults_hold_the_pinned_keys() -> None:
    config = parse({})
    assert (config.kiosk.id, config.kiosk.site) == ("k-001", "demo")
    assert config.kiosk.state_dir == Path("/var/lib/kiosk")
    assert config.kiosk.retention_days == 21
    assert (config.uplink.host, config.uplink.port) == ("127.0.0.1", 1883)
    assert config.uplink.topic_prefix == "county/demo"
    assert config.uplink.window == 32
    assert config.uplink.tls.enabled is False
    assert config.ledger_path == Path("/var/lib/kiosk/ledger.sqlite")


def test_config_is_frozen() -> None:
    config = parse({})
    with pytest.raises(AttributeError):
        config.kiosk.id = "other"  # type: ignore[misc]


def test_file_values_load(tmp_path: Path) -> None:
    path = tmp_path / "kiosk.toml"
    path.write_text(
        '[kiosk]\nid = "k-007"\nsite = "fanzhuang"\nstate_dir = "/srv/kiosk"\n'
        '[uplink]\nhost = "broker.example"\nport = 8883\n[uplink.tls]\nenabled = true\n'
    )
    config = load(path, environ={})
    assert config.kiosk.id == "k-007"
    assert config.kiosk.state_dir == Path("/srv/kiosk")
    assert config.uplink.port == 8883
    assert config.uplink.tls.enabled
    assert config.source == str(path)


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        (
            '[uplink]\nport = "abc"',
            'uplink.port: expected an integer 1-65535, got "abc" (kiosk.toml)',
        ),
        (
            "[uplink]\nport = 70000",
            "uplink.port: expected an integer 1-65535, got 70000 (kiosk.toml)",
        ),
        ("[uplink]\nport = 0", "uplink.port: expected an integer 1-65535, got 0 (kiosk.toml)"),
        (
            "[uplink]\nport = 1883.5",
            "uplink.port: expected an integer 1-65535, got 1883.5 (kiosk.toml)",
        ),
        ("[uplink]\nprot = 1", 'uplink.prot: unknown key; did you mean "port"? (kiosk.toml)'),
        ("[uplnk]\nport = 1", 'uplnk: unknown key; did you mean "uplink"? (kiosk.toml)'),
        ("[kiosk]\nid = 12", "kiosk.id: expected a string, got 12 (kiosk.toml)"),
        ('[kiosk]\nid = "has space"', "kiosk.id: expected a string matching"),
        ("[kiosk]\nretention_days = 0", "kiosk.retention_days: expected an integer 1-3650, got 0"),
        ('[uplink]\nenabled = "yes"', 'uplink.enabled: expected true or false, got "yes"'),
        ("uplink = 3", "uplink: expected a table, got 3 (kiosk.toml)"),
        (
            "[uplink.tls]\nverify = false",
            "uplink.tls.verify: TLS verification cannot be turned off",
        ),
        ('[uplink.tls]\ncert_file = "/c.pem"', "uplink.tls: tls.cert_file and tls.key_file"),
        ('[uplink]\npassword = "x"\npassword_file = "/p"', "give one of uplink.password"),
        ('[uplink]\ntopic_prefix = "a/#"', "uplink.topic_prefix: expected a string matching"),
        ("[uplink]\nwindow = 0", "uplink.window: expected an integer 1-1024, got 0"),
        (
            "[kiosk\nid=1",
            "invalid TOML: Expected ']' at the end of a table declaration "
            "(at line 1, column 7) (kiosk.toml)",
        ),
    ],
)
def test_bad_values_name_key_and_file(tmp_path: Path, toml: str, message: str) -> None:
    path = tmp_path / "kiosk.toml"
    path.write_text(toml)
    with pytest.raises(ConfigError) as info:
        load(path, environ={})
    assert message in str(info.value)


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    path = tmp_path / "kiosk.toml"
    path.write_text('[uplink]\nport = "x"\nwindow = -1\n[kiosk]\nid = 5\n')
    with pytest.raises(ConfigError) as info:
        load(path, environ={})
    keys = sorted(p.key for p in info.value.problems)
    assert keys == ["kiosk.id", "uplink.port", "uplink.window"]


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(
        ConfigError, match=r"cannot read: No such file or directory \(.*nope.toml\)"
    ):
        load(tmp_path / "nope.toml", environ={})


def test_env_overrides_win_over_file_and_are_typed(tmp_path: Path) -> None:
    path = tmp_path / "kiosk.toml"
    path.write_text("[uplink]\nport = 1883\n")
    env = {
        "KIOSK_UPLINK__PORT": "1884",
        "KIOSK_KIOSK__ID": "k-042",
        "KIOSK_UPLINK__TLS__ENABLED": "true",
        "KIOSK_UPLINK__RECONNECT_MAX_S": "30",
        "KIOSK_CONFIG": "/etc/kiosk/kiosk.toml",  # not an override: no double underscore
    }
    config = load(path, environ=env)
    assert config.uplink.port == 1884
    assert config.kiosk.id == "k-042"
    assert config.uplink.tls.enabled is True
    assert config.uplink.reconnect_max_s == 30


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"KIOSK_UPLINK__PORT": "abc"},
            'uplink.port: expected an integer 1-65535, got "abc" (env KIOSK_UPLINK__PORT)',
        ),
        ({"KIOSK_UPLINK__NOPE": "1"}, "uplink.nope: unknown key (env KIOSK_UPLINK__NOPE)"),
        (
            {"KIOSK_UPLINK__TLS__ENABLED": "maybe"},
            'uplink.tls.enabled: expected true or false, got "maybe" '
            "(env KIOSK_UPLINK__TLS__ENABLED)",
        ),
    ],
)
def test_bad_env_overrides_name_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse({}, environ=env)
    assert message in str(info.value)


def test_describe_masks_secrets() -> None:
    config = parse({"uplink": {"username": "k-001", "password": "s3cret-value"}})
    shown = config.describe()
    assert shown["uplink"]["password"] == "********"
    assert shown["uplink"]["username"] == "k-001"
    assert "s3cret-value" not in repr(shown)


def test_fingerprint_follows_section_changes() -> None:
    a, b = parse({}), parse({"uplink": {"topic_prefix": "county/other"}})
    assert a.fingerprint("uplink") != b.fingerprint("uplink")
    assert a.fingerprint("kiosk") == b.fingerprint("kiosk")
    assert isinstance(a, Config)


def test_read_secret_from_file_and_credential(tmp_path: Path) -> None:
    (tmp_path / "mqtt_password").write_text("pw-from-cred\n")
    assert read_secret("uplink.password", tmp_path / "mqtt_password", None) == "pw-from-cred"
    env = {"CREDENTIALS_DIRECTORY": str(tmp_path)}
    assert read_secret("uplink.password", None, "mqtt_password", env) == "pw-from-cred"
    with pytest.raises(ConfigError, match=r"uplink\.password_credential: .*CREDENTIALS_DIRECTORY"):
        read_secret("uplink.password", None, "mqtt_password", {})
    with pytest.raises(ConfigError, match=r"uplink\.password_file: cannot read secret"):
        read_secret("uplink.password", tmp_path / "missing", None)


@pytest.mark.parametrize(
    ("uplink", "refused"),
    [
        ({"host": "mqtt.county.example", "username": "k-001", "password": "pw"}, True),
        ({"host": "10.0.0.5", "username": "k-001", "password_file": "/etc/kiosk/pw"}, True),
        ({"host": "10.0.0.5", "password_credential": "mqtt_password"}, True),
        ({"host": "10.0.0.5", "username": "k-001"}, True),  # the name alone is in clear too
        ({"host": "10.0.0.5", "username": "k", "tls": {"enabled": True}}, False),
        ({"host": "127.0.0.1", "username": "k-001", "password": "pw"}, False),
        ({"host": "localhost", "username": "k-001", "password": "pw"}, False),
        ({"host": "::1", "username": "k-001", "password": "pw"}, False),
        ({"host": "10.0.0.5"}, False),  # anonymous: nothing secret to leak
        (
            {
                "host": "10.0.0.5",
                "username": "k",
                "password": "p",
                "allow_plaintext_password": True,
            },
            False,
        ),
    ],
)
def test_a_password_in_clear_text_to_a_remote_broker_needs_an_explicit_yes(
    uplink: dict[str, object], refused: bool
) -> None:
    if refused:
        with pytest.raises(ConfigError) as caught:
            parse({"uplink": uplink})
        text = str(caught.value)
        assert "clear text" in text and "uplink.allow_plaintext_password" in text
        assert "pw" not in text.replace("password", "")  # the secret itself is never shown
    else:
        parse({"uplink": uplink})
