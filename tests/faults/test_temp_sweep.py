"""Temporary files left by writers killed mid-write are swept when a supervisor starts (issue 10 soak)."""

from __future__ import annotations

import os
import time

from helpers.supervisor import make_settings, standins, supervising  # noqa: F401 (fixture)

from lanes_tui.engine import events as ev
from lanes_tui.storage.files.sweep import sweep_temp_files

HEX = "0123456789abcdef" * 2


def plant(path, age: float):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("half-written")
    then = time.time() - age
    os.utime(path, (then, then))
    return path


def test_only_old_files_with_the_exact_temporary_name_go(tmp_path):
    root = tmp_path / "state"
    stale = [plant(root / f".lock.{HEX}.tmp", 3600),
             plant(root / "tasks" / "t1" / f".task.json.{HEX}.tmp", 3600),
             plant(root / "agents" / f".a1.json.{HEX}.tmp", 3600),
             plant(root / ".lanes-tui" / "logs" / "t1" / f".x.{HEX}.tmp", 3600)]
    kept = [plant(root / "tasks" / "t1" / f".response.json.{HEX}.tmp", 5),  # a live writer's, maybe
            plant(root / "tasks" / "t1" / "notes.tmp", 3600),  # not our name
            plant(root / "tasks" / "t1" / f".task.json.{HEX[:-1]}.tmp", 3600)]
    outside = plant(tmp_path / "elsewhere" / f".x.{HEX}.tmp", 3600)
    (root / "tasks" / "link").symlink_to(outside.parent)  # never followed
    removed = sweep_temp_files(root)
    assert sorted(removed) == sorted(stale)
    assert not any(p.exists() for p in stale) and all(p.exists() for p in kept) and outside.exists()


async def test_the_supervisor_sweeps_its_store_when_it_starts(workspace, standins):  # noqa: F811
    store = workspace.store()
    task = workspace.submit()
    leftover = plant(store.root / "tasks" / task["id"] / f".task.json.{HEX}.tmp", 3600)
    async with supervising(store, make_settings(workspace)) as h:
        swept = await h.events.wait_for(ev.TempFilesSwept)  # after the start: nothing waits for it
        assert swept.count == 1
        await h.events.wait_for(ev.TaskCompleted, task["id"])
    assert not leftover.exists()
