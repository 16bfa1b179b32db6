"""A supervisor whose database sessions are ended again and again must go on and drain its queue.

One `lanes-tui --no-ui` host on a PostgreSQL queue; while it works, the test ends a random
share of its sessions (pg_terminate_backend, from an admin connection) every few moments:
pooled verbs, the change feed's listener, the heartbeat's and the advisory lock's session.
Whatever call a termination meets (a claim, a renewal, recording a worker, reading a request,
an answer), the supervisor retries or hands the task back; it never exits, and every task is
answered exactly once. (The chaos run, tests/chaos/test_postgres_hosts.py, terminates only a
handful of times; a CI run of it saw a supervisor exit on one such termination.)

A few tasks are held by another host whose heartbeat the test keeps fresh, their leases run
out: every scheduling pass finds them claimable by lease and is refused (the holder is alive),
and looks at why (a CI chaos run saw the supervisor end on that look at a terminated session).
They stay that host's to the end.

The pace is set by the count of answered tasks, not by time: one round of terminations per
answered task or two, so the storm lasts as long as the queue does.
"""

from __future__ import annotations

import os
import random
import time

from helpers.postgres_chaos import named, terminate_backends
from helpers.simulated_hosts import SimulatedHost
from helpers.standins import install_standins
from helpers.supervisor import write_settings

from lanes_tui.core.lifecycle import RESPONSE_EVENT
from lanes_tui.storage.postgres import PostgresBackend

TASKS = 80
HELD_ELSEWHERE = 4  # of them, claimed by FAR_OWNER
FAR_HOST = "far-host"
FAR_OWNER = f"lanes-tui@{FAR_HOST}:1"
HOST = "storm-host"
APPLICATION = f"lanes-tui-{HOST}"
SEED_ENV = "LANES_TUI_CHAOS_SEED"
DRAIN_BOUND = 240.0  # an upper bound only: a hang fails the run instead of blocking CI
STEP = 0.05  # how often the queue is looked at (and a round of terminations may come)


def test_a_supervisor_drains_its_queue_while_its_sessions_are_terminated_over_and_over(
        workspace, postgres_server, postgres_url, tmp_path):
    seed = int(os.environ.get(SEED_ENV) or random.SystemRandom().randrange(1 << 32))
    print(f"\nstorm seed {seed} (replay with {SEED_ENV}={seed})", flush=True)
    rng = random.Random(seed)
    database = postgres_url.split("/")[3].split("?")[0]
    settings = write_settings(tmp_path / "lanes-tui.storm.yaml",
                              lane={"timeout_seconds": 60, "lease_seconds": 6, "renew_seconds": 1,
                                    "max_attempts": 20, "backoff_seconds": 0.1, "backoff_max_seconds": 0.5},
                              kill_grace_seconds=0.5, shutdown_grace_seconds=1,
                              concurrency={"global": 6, "vendors": {"claude": 6}})
    bin_dir = install_standins(tmp_path / "bin")
    env = {k: v for k, v in os.environ.items() if not k.startswith("STANDIN_")}
    env.update(PATH=os.pathsep.join([str(bin_dir), env.get("PATH", "")]), STANDIN_MODE="slow",
               STANDIN_DELAY="0.05", LANES_TUI_DEBUG="1")
    store = PostgresBackend(postgres_url)
    try:
        task_ids = [store.create_task(workspace_id="ws", correlation_id=f"storm-{n}", source_agent="storm-test",
                                      lane="default", workspace_root=workspace.root, request_path=workspace.request,
                                      response_path=workspace.root / f"out-{n}.md", prompt=f"task {n} of the storm",
                                      metadata={"required_vendor": "claude"})["id"] for n in range(TASKS)]
        held = task_ids[:HELD_ELSEWHERE]
        for task_id in held:
            store.claim(task_id, owner=FAR_OWNER, lease_seconds=0.5)  # run out at once; the holder lives
    finally:
        store.close()
    import psycopg  # (here: collected without the postgres extra, the fixture skips)

    far_host = psycopg.connect(postgres_url, autocommit=True)
    beat_far_host(far_host)
    out_dir = tmp_path / "hosts"
    out_dir.mkdir()
    host = SimulatedHost(HOST, config=workspace.config, settings=settings, cwd=workspace.root,
                         url=named(postgres_url, APPLICATION), env=env, out_dir=out_dir)
    watcher = PostgresBackend(postgres_url)
    rounds = ended = 0
    try:
        host.start()
        host.wait_started()
        deadline = time.monotonic() + DRAIN_BOUND
        answered_at_last_round = -1
        while True:
            assert host.running, (f"the supervisor exited ({host.current.proc.returncode}) after {rounds} "
                                  f"round(s) of terminations: "
                                  f"{host.current.stderr.read_text(errors='replace')[-4000:]}")
            beat_far_host(far_host)
            states = _states(watcher)
            answered = sum(1 for s in states.values() if s in ("completed", "failed")) if states else None
            if answered == TASKS - HELD_ELSEWHERE:
                break
            if answered is not None and answered != answered_at_last_round and rng.random() < 0.7:
                answered_at_last_round = answered
                ended += terminate_backends(postgres_server, database, APPLICATION,
                                            share=rng.choice((0.3, 0.6, 1.0)), choose=rng.sample)
                rounds += 1
            assert time.monotonic() < deadline, f"not drained within {DRAIN_BOUND:.0f} s: {states}"
            time.sleep(STEP)  # the poll's pace: the queue's state is what is waited for
        assert host.running, host.current.stderr.read_text(errors="replace")[-4000:]
        assert rounds >= TASKS // 4 and ended > rounds, (rounds, ended)
        finals = {task_id: watcher.read_task(task_id) for task_id in task_ids}
        run_here = task_ids[HELD_ELSEWHERE:]
        assert {finals[i]["state"] for i in run_here} == {"completed"}, \
            {i: (finals[i]["state"], finals[i].get("failure_reason")) for i in run_here
             if finals[i]["state"] != "completed"}
        assert {(finals[i]["state"], finals[i]["claim_owner"]) for i in held} == {("claimed", FAR_OWNER)}
        answers = [e for task_id in task_ids for e in watcher.read_events(task_id).events
                   if e.get("type") == RESPONSE_EVENT]
        assert len(answers) == len(run_here), len(answers)  # each once
        print(f"{rounds} round(s) of terminations ended {ended} session(s); {len(run_here)} tasks answered "
              f"once each; {HELD_ELSEWHERE} left to the live host that holds them")
    finally:
        host.stop()
        host.kill_if_running()
        watcher.close()
        far_host.close()


def beat_far_host(conn) -> None:
    """The other host's heartbeat, as its supervisor would write it (only its row: no process)."""
    conn.execute("INSERT INTO lanes_tui.supervisors (host, owner, record) VALUES (%s, %s, '{}') "
                 "ON CONFLICT (host) DO UPDATE SET heartbeat_at = clock_timestamp()", (FAR_HOST, FAR_OWNER))


def _states(store: PostgresBackend) -> dict[str, str] | None:
    from lanes_tui.core.errors import LanesError

    try:
        return {t["id"]: t["state"] for t in store.all_tasks().tasks}
    except LanesError:
        return None  # the watcher's own session may be the one ended: next look
