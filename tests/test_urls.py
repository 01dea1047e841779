"""open_registry: URL dispatch, the default location and clear errors."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

from modelreg import MemoryRegistry, ModelRegistry, RegistryError, open_registry
from modelreg.urls import BACKENDS, default_registry_url


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


def test_every_scheme_in_the_backend_table_names_a_model_registry_class() -> None:
    assert sorted(BACKENDS) == ["http", "https", "memory", "postgres", "postgresql", "sqlite"]
    for scheme, backend in BACKENDS.items():
        cls = getattr(importlib.import_module(backend.module), backend.name)
        assert isinstance(cls, type) and issubclass(cls, ModelRegistry), scheme
        assert backend.label.endswith("://") and backend.label[:-3] in BACKENDS, scheme
        if backend.opener:
            assert callable(getattr(cls, backend.opener)), scheme


def test_opening_memory_loads_no_outer_layer() -> None:
    outer = ("modelreg.stores", "modelreg.client", "modelreg.server", "modelreg.cli")
    code = (
        "import sys, modelreg; modelreg.open_registry('memory://'); "
        f"print(sorted(m for m in sys.modules if m.startswith({outer!r})))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert done.stdout.strip() == "[]"
