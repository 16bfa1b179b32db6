"""The host identity records carry: the machine's name, or LANES_TUI_HOST_ID when it is usable."""

from __future__ import annotations

import socket

import pytest

from lanes_tui.core.errors import ConfigError
from lanes_tui.core.hosts import this_host
from lanes_tui.core.supervisors import this_supervisor


def test_the_machines_name_by_default():
    assert this_host() == socket.gethostname()


def test_the_override_names_the_host_in_claim_owners(monkeypatch):
    monkeypatch.setenv("LANES_TUI_HOST_ID", "  build-1  ")
    assert this_host() == "build-1"
    assert this_supervisor().owner.startswith("lanes-tui@build-1:")


def test_an_empty_override_is_no_override(monkeypatch):
    monkeypatch.setenv("LANES_TUI_HOST_ID", "  ")
    assert this_host() == socket.gethostname()


@pytest.mark.parametrize("bad", ["a:b", "me@there", "two words", "x" * 101, "a/b", "tab\there"])
def test_an_override_that_would_make_owners_ambiguous_is_refused(monkeypatch, bad):
    monkeypatch.setenv("LANES_TUI_HOST_ID", bad)
    with pytest.raises(ConfigError, match="LANES_TUI_HOST_ID must be"):
        this_host()


def test_the_cli_says_so_in_one_line_with_the_config_exit_code(workspace, monkeypatch):
    monkeypatch.setenv("LANES_TUI_HOST_ID", "a:b")
    done = workspace.run("lock", "request.md", "--as", "alice")
    assert done.returncode == ConfigError.exit_code, done
    assert done.stderr.count("\n") == 1 and "LANES_TUI_HOST_ID must be" in done.stderr
    assert not (workspace.store_root / "locks").exists() or not any((workspace.store_root / "locks").iterdir())


def test_locks_name_the_overridden_host(monkeypatch, tmp_path):
    from lanes_tui.storage import open_store

    monkeypatch.setenv("LANES_TUI_HOST_ID", "ci-runner-7")
    assert open_store(tmp_path / "q").locks().host == "ci-runner-7"
