"""open_registry: URL dispatch, the default location and clear errors."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from modelreg import MemoryRegistry, RegistryError, open_registry
from modelreg.urls import default_registry_url


def test_default_url_is_an_sqlite_file_under_the_data_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("MODELREG_URL", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert default_registry_url() == f"sqlite:///{tmp_path}/modelreg/registry.db"


def test_modelreg_url_overrides_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELREG_URL", "memory://")
    assert default_registry_url() == "memory://"
    assert isinstance(open_registry(), MemoryRegistry)


@pytest.mark.parametrize("url", ["ftp://x", "mysql://db/x", "registry.db", ""])
def test_unsupported_url_names_the_accepted_forms(url: str) -> None:
    with pytest.raises(RegistryError, match="expected memory://, sqlite:///"):
        open_registry(url)


@pytest.mark.parametrize(("url", "module", "extra"), [
    ("postgresql://db/x", "modelreg.stores.postgres", "postgres"),
    ("http://127.0.0.1:1", "modelreg.client", "client"),
])
def test_missing_extra_is_named_with_the_install_command(
    monkeypatch: pytest.MonkeyPatch, url: str, module: str, extra: str
) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # as if the extra's dependencies were not installed
    with pytest.raises(RegistryError, match=rf"pip install 'modelreg\[{extra}\]'"):
        open_registry(url)


@pytest.mark.parametrize(("url", "takes"), [
    ("memory://", "history_limit="),
    ("sqlite:///{tmp}/reg.db", "poll_interval=, store_timeout="),
    ("postgresql://127.0.0.1:1/x", "min_size="),
    ("http://127.0.0.1:1", "token="),
])
def test_an_unknown_option_is_a_type_error_naming_the_options_that_backend_takes(
    tmp_path: Path, url: str, takes: str
) -> None:
    with pytest.raises(TypeError, match=r"got unknown option\(s\) 'pool_size'") as refused:
        open_registry(url.format(tmp=tmp_path), pool_size=4)
    assert takes in str(refused.value)
    assert not (tmp_path / "reg.db").exists()  # refused before the backend touched anything
