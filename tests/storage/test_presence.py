"""Presence: status decays active -> idle -> offline with time, a dead process is offline at once,
heartbeats keep or clear the task and note, ids that could pass for addresses are refused."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from datetime import timedelta

import pytest
from helpers.clock import ManualClock

from lanes_tui.core.errors import InvalidInput, NotFound
from lanes_tui.core.presence import addresses_of
from lanes_tui.storage.files.coordination import AGENTS_DIR, file_presence
from lanes_tui.storage.files.records import EVENTS


@pytest.fixture
def presence(tmp_path):
    (tmp_path / "store").mkdir()
    clock = ManualClock()
    p = file_presence(tmp_path / "store", clock=clock, host="here")
    p.test_clock = clock
    return p


def status(presence, agent_id):
    return {s.record.id: s.status for s in presence.agents()}[agent_id]


def test_status_decays_with_time_and_a_heartbeat_brings_it_back(presence):
    record = presence.register("alice", name="Alice", role="reviewer", task_id="T1")
    assert (record.name, record.role, record.task_id, record.host) == ("Alice", "reviewer", "T1", "here")
    assert record.registered_at == record.last_seen == "2026-11-23T12:00:00.000000Z"
    assert status(presence, "alice") == "active" and presence.status_of("alice") in ("active", "idle")
    presence.test_clock.now += timedelta(seconds=120)
    assert status(presence, "alice") == "active"  # the bound is inclusive
    presence.test_clock.now += timedelta(seconds=1)
    assert status(presence, "alice") == "idle" and presence.status_of("alice") in ("active", "idle")
    presence.test_clock.now += timedelta(seconds=900 - 121 + 1)
    assert status(presence, "alice") == "offline" and presence.status_of("alice") not in ("active", "idle")
    assert presence.status_of("alice") == "offline"
    presence.heartbeat("alice")
    assert status(presence, "alice") == "active"
    # agents(now) answers for any moment, without touching the clock
    later = presence.test_clock.now + timedelta(seconds=300)
    assert [s.status for s in presence.agents(later)] == ["idle"]


def test_thresholds_are_settings(tmp_path):
    (tmp_path / "store").mkdir()
    clock = ManualClock()
    p = file_presence(tmp_path / "store", clock=clock, active_seconds=5, offline_seconds=10)
    p.register("a")
    clock.now += timedelta(seconds=6)
    assert p.status_of("a") == "idle"
    clock.now += timedelta(seconds=5)
    assert p.status_of("a") == "offline"


def test_a_dead_process_is_offline_at_once_and_a_live_one_is_not(presence):
    gone = subprocess.Popen(["true"])
    gone.wait()
    presence.register("ghost", pid=gone.pid)
    presence.register("me", pid=os.getpid())
    states = {s.record.id: s for s in presence.agents()}
    assert (states["ghost"].status, states["ghost"].alive) == ("offline", False)
    assert (states["me"].status, states["me"].alive) == ("active", True)
    assert states["me"].record.pid_start is not None
    assert presence.status_of("ghost") not in ("active", "idle")
    presence.heartbeat("ghost")  # a fresh heartbeat does not revive a dead process
    assert presence.status_of("ghost") == "offline"


def test_a_pid_on_another_host_is_not_judged_here(tmp_path):
    (tmp_path / "store").mkdir()
    file_presence(tmp_path / "store", host="elsewhere").register("remote", pid=2 ** 22 + 12345)
    (state,) = file_presence(tmp_path / "store", host="here").agents()
    assert state.alive is None and state.status == "active"


def test_heartbeat_keeps_or_clears_task_and_note_and_registers_a_newcomer(presence):
    record = presence.heartbeat("newcomer", task_id="T9", note="starting")
    assert (record.name, record.task_id, record.note) == ("newcomer", "T9", "starting")
    presence.test_clock.now += timedelta(seconds=10)
    record = presence.heartbeat("newcomer")
    assert (record.task_id, record.note) == ("T9", "starting")
    assert record.last_seen == "2026-11-23T12:00:10.000000Z" and record.registered_at == "2026-11-23T12:00:00.000000Z"
    record = presence.heartbeat("newcomer", task_id="", note="")
    assert (record.task_id, record.note) == (None, "")
    log = [json.loads(line) for line in (presence.records.path / EVENTS).read_text().splitlines()]
    assert [e["type"] for e in log] == ["registered"]  # heartbeats are not logged


def test_register_again_replaces_the_session(presence):
    presence.register("a", role="dev", task_id="T1")
    presence.test_clock.now += timedelta(seconds=50)
    record = presence.register("a", name="A")
    assert (record.name, record.role, record.task_id) == ("A", None, None)
    assert record.registered_at == "2026-11-23T12:00:50.000000Z"
    assert len(presence.agents()) == 1


@pytest.mark.parametrize("agent_id", ["", " a", "a\x1b[2J", "x" * 201, "line\nbreak", "tab\there",
                                      "rlo\u202eevil", "c1\x9b", "all", "name:bob", "role:dev"])
def test_bad_ids_are_refused(presence, agent_id):
    with pytest.raises(InvalidInput):
        presence.register(agent_id)
    with pytest.raises(InvalidInput):
        presence.heartbeat(agent_id)


@pytest.mark.parametrize("kwargs", [{"role": "Dev"}, {"role": "a b"}, {"role": "x" * 41}, {"name": "a\x07"},
                                    {"pid": 0}, {"pid": -3}, {"task_id": "t\x1b"}])
def test_bad_fields_are_refused(presence, kwargs):
    with pytest.raises(InvalidInput):
        presence.register("a", **kwargs)
    assert presence.agents() == []


def test_note_is_capped_but_stored_raw(presence):
    with pytest.raises(InvalidInput):
        presence.heartbeat("a", note="n" * 501)
    raw = "done \x1b[31mred\x1b[0m [b]markup[/b] \u202eevil"
    assert presence.heartbeat("a", note=raw).note == raw
    assert presence.get("a").note == raw


def test_unknown_agents_and_damaged_records(presence):
    assert presence.status_of("nobody") is None and presence.status_of("nobody") not in ("active", "idle")
    presence.register("a")
    presence.register("b")
    (presence.records.path / (hashlib.sha256(b"a").hexdigest()[:40] + ".json")).write_text("{broken")
    assert [s.record.id for s in presence.agents()] == ["b"]
    assert presence.get("a") is None
    presence.heartbeat("a")  # a damaged record is replaced, not a dead end
    assert [s.record.id for s in presence.agents()] == ["a", "b"]


def test_a_record_copied_under_another_name_is_ignored(presence):
    presence.register("a")
    presence.register("b")
    files = {json.loads(p.read_text())["id"]: p for p in presence.records.path.iterdir() if p.suffix == ".json"}
    files["b"].write_text(files["a"].read_text())  # b's file now claims to be a
    assert [s.record.id for s in presence.agents()] == ["a"]
    assert presence.get("b") is None


def test_no_store_is_not_found(tmp_path):
    with pytest.raises(NotFound):
        file_presence(tmp_path / "missing").agents()
    assert not (tmp_path / "missing").exists()


def test_addresses_and_matching(presence):
    presence.register("w1", name="builder", role="dev")
    presence.register("w2", role="dev")
    presence.register("w3", role="review")
    assert addresses_of("w1", presence.get("w1")) == {"all", "w1", "name:builder", "role:dev"}
    assert addresses_of("stranger", None) == {"all", "stranger", "name:stranger"}
    assert [r.id for r in presence.matching("role:dev")] == ["w1", "w2"]
    assert [r.id for r in presence.matching("all")] == ["w1", "w2", "w3"]
    assert [r.id for r in presence.matching("name:builder")] == ["w1"]
    assert presence.matching("w9") == []
    assert (presence.records.store_root / AGENTS_DIR).is_dir()
