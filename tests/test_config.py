"""Settings: the DuckDB memory limit is checked where it is set, in the user's terms."""

from __future__ import annotations

import pytest

from clm.config import get_settings
from clm.errors import ConfigError


def test_memory_limit_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("CLM_DUCKDB_MEMORY_LIMIT", " 1.5GiB ")

    assert get_settings().duckdb_memory_limit == "1.5GiB"


def test_memory_limit_defaults_to_2gb(monkeypatch):
    monkeypatch.delenv("CLM_DUCKDB_MEMORY_LIMIT", raising=False)

    assert get_settings().duckdb_memory_limit == "2GB"


@pytest.mark.parametrize("value", ["80%", "2", "two GB", "2 PB"])
def test_a_memory_limit_that_is_not_a_size_names_the_setting(value):
    with pytest.raises(ConfigError, match="CLM_DUCKDB_MEMORY_LIMIT") as info:
        get_settings(duckdb_memory_limit=value)

    assert info.value.context["field"] == "duckdb_memory_limit"
    assert "not a size such as 2GB" in str(info.value)
