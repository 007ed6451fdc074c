"""The county's config: defaults, COUNTY_ overrides, errors naming key and source."""

from __future__ import annotations

from pathlib import Path

import pytest

from county.config import ConfigError, load, parse
from tests.helpers import write_config


def test_defaults_match_the_issue() -> None:
    c = parse({})
    assert (c.county.id, c.broker.topic_prefix, c.broker.share_group) == (
        "330106", "county/demo", "ingest",
    )  # fmt: skip
    assert c.broker.session_expiry_s >= 86_400
    assert (c.ingest.batch_rows, c.ingest.batch_ms) == (500, 50)
    assert c.database.backend == "sqlite"
    assert c.database.sqlite_path == Path("/var/lib/county/county.sqlite")
    assert c.database.retention_days == 21


def test_file_and_environment(tmp_path: Path) -> None:
    path = write_config(
        tmp_path / "county.toml",
        {
            "broker": {"client_id": "county-ingest-2", "port": 1884},
            "database": {"url": "postgresql://county@db.example:5432/county"},
        },
    )
    c = load(path, environ={"COUNTY_BROKER__PORT": "1885", "KIOSK_BROKER__PORT": "1"})
    assert c.broker.port == 1885 and c.broker.client_id == "county-ingest-2"
    assert c.database.backend == "postgres"


@pytest.mark.parametrize(
    ("values", "environ", "message"),
    [
        ({"broker": {"port": 0}}, {}, "broker.port: expected an integer 1-65535, got 0 (test)"),
        ({"broker": {"sesion_expiry_s": 1}}, {}, 'did you mean "session_expiry_s"'),
        ({"broker": {"session_expiry_s": 60}}, {}, "broker.session_expiry_s: expected an integer"),
        ({}, {"COUNTY_INGEST__BATCH_ROWS": "many"}, "(env COUNTY_INGEST__BATCH_ROWS)"),
        ({"database": {"url": "mysql://x"}}, {}, 'expected "sqlite:///PATH"'),
        ({"database": {"url": "postgresql://u:secret@h/db"}}, {}, "password_file"),
        ({"broker": {"tls": {"verify": False}}}, {}, "cannot be turned off"),
        ({"county": {"id": "hangzhou"}}, {}, "county.id: expected a string matching"),
    ],
)
def test_errors_name_key_and_source(values: dict, environ: dict, message: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(ConfigError) as caught:
        parse(values, source="test", environ=environ)
    assert message in str(caught.value)
    assert "secret" not in str(caught.value)  # a password in a URL is never echoed


def test_example_config_is_valid() -> None:
    config = load(Path(__file__).resolve().parents[2] / "examples" / "county.toml", environ={})
    assert config.broker.client_id == "county-ingest-1"
    assert config.broker.password_credential == "mqtt_password"
    assert config.database.backend == "sqlite"
