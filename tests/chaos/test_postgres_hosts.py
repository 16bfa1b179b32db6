"""Issue 14's multi-host chaos run: three hosts drain one PostgreSQL queue while things break.

Three real `lanes-tui --no-ui` supervisors, each a host of its own (LANES_TUI_HOST_ID host-1..3),
drain TASKS tasks of one database on a real server, with the stand-in `claude` as their agent.
In the one run, at moments drawn from a seed (printed; LANES_TUI_CHAOS_SEED replays one):

- host-2's supervisor is SIGKILLed (its workers must die with it, PR_SET_PDEATHSIG) and
  started again under the same identity, which re-queues its predecessor's claims at once;
- workers (stand-in agent processes) are SIGKILLed here and there;
- the sessions of a host are ended with pg_terminate_backend, from an admin connection;
- the server restarts (`pg_ctl restart -m fast`), every session with it;
- host-3 is SIGKILLed for good: its tasks wait for its heartbeat to be DEAD_AFTER_SECONDS old,
  then another host rescues them (the time from the SIGKILL to each rescuing claim is measured);
- host-1 is partitioned from the server (tests/helpers/partition.py: its path to the server is a
  proxy that stops copying bytes, closing nothing): it must stop its own workers before their
  leases run out (self-fencing), the others rescue its tasks once its heartbeat is old, and it
  rejoins and answers tasks again once the partition heals.

The figures issue 14 asks for, asserted and printed (and written to chaos-figures.json):
tasks lost 0, answered twice 0, two live workers on one task never observed (every worker's
life is watched through a pidfd, tests/helpers/worker_lives.py: the kernel sees a worker die
even when its supervisor, killed or cut off, writes nothing about it), and the time to rescue
after a host dies.

Waits are bounded polls of conditions (the queue's rows, the workers' lives, the supervisors'
event lines); no assertion is on speed. The pace of the run is set by design instead: each
host runs SLOTS agents at a time and each agent takes about 6 * AGENT_DELAY seconds. host-1's
agents take longer than a lease (6 * CUT_OFF_AGENT_DELAY): when it is cut off, only its fence
can stop them in time, so the run shows the fence doing it rather than agents that happened
to finish.
"""

from __future__ import annotations

import json
import os
import random
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from helpers.partition import PartitionProxy, socket_of, via
from helpers.postgres_chaos import named, restart, terminate_backends
from helpers.simulated_hosts import SimulatedHost
from helpers.standins import install_standins
from helpers.supervisor import write_settings
from helpers.worker_lives import WorkerLives

from lanes_tui.core.clock import parse_ts
from lanes_tui.storage.postgres.registry import DEAD_AFTER_SECONDS

TASKS = 500
SEED_ENV = "LANES_TUI_CHAOS_SEED"
PARTITIONED, RESTARTED, DEAD = "host-1", "host-2", "host-3"
HOSTS = (PARTITIONED, RESTARTED, DEAD)
SLOTS = 8  # workers per host at a time
AGENT_DELAY = 0.1  # seconds between the stand-in's stream lines (6 lines: about 0.6 s per attempt)
CUT_OFF_SLOTS = 10  # host-1: more agents at a time,
CUT_OFF_AGENT_DELAY = 1.2  # each working longer than a lease (7.2 s > lease_seconds)
LEASE = {"timeout_seconds": 60, "lease_seconds": 6, "renew_seconds": 1, "max_attempts": 10,
         "backoff_seconds": 0.2, "backoff_max_seconds": 1}
# Submitted once the partition heals, in a lane only host-1 runs (the others leave it to outside
# dispatchers): its rejoining is shown by answers, whoever would otherwise have drained the queue.
REJOIN_LANE, REJOIN_TASKS = "rejoin", 10
WORKER_KILLS = 8
TERMINATIONS = 6
STEP = 0.1  # how often conditions are polled
# Upper bounds only (a hang fails the run instead of blocking CI), each for one wait.
PROGRESS_BOUND = 60.0
RESCUE_BOUND = DEAD_AFTER_SECONDS + 60.0
DRAIN_BOUND = 120.0


@dataclass
class Plan:
    """When each act of chaos comes, as a count of finished tasks (drawn from the seed)."""

    restart_host_at: int
    server_restart_at: int
    host_death_at: int
    partition_at: int
    worker_kills_at: list[int]
    terminations_at: list[int]

    @classmethod
    def draw(cls, rng: random.Random) -> "Plan":
        death = rng.randint(100, 130)
        return cls(restart_host_at=rng.randint(10, 30), server_restart_at=rng.randint(50, 80),
                   host_death_at=death, partition_at=death + rng.randint(5, 20),
                   worker_kills_at=sorted(rng.sample(range(5, TASKS - 60), WORKER_KILLS)),
                   terminations_at=sorted(rng.sample(range(5, TASKS - 60), TERMINATIONS)))


class QueueRows:
    """The test's own look at the queue's rows (counts and owners), reconnecting after a restart
    or a termination: what the figures are read from is the database, not the supervisors."""

    def __init__(self, url: str) -> None:
        self.url = named(url, "lanes-tui-chaos-observer")
        self._conn: Any = None

    def _query(self, sql: str, params: tuple = ()) -> list[tuple] | None:
        import psycopg

        try:
            if self._conn is None or self._conn.closed:
                self._conn = psycopg.connect(self.url, autocommit=True, connect_timeout=5)
            return self._conn.execute(sql, params).fetchall()
        except psycopg.Error:
            if self._conn is not None:
                self._conn.close()
            self._conn = None
            return None  # down for now (a restart): the caller polls again

    def finished(self) -> int | None:
        rows = self._query("SELECT count(*) FROM lanes_tui.tasks WHERE state IN ('completed', 'failed')")
        return None if rows is None else rows[0][0]

    def claimed_by(self, owner: str) -> list[str] | None:
        rows = self._query("SELECT id FROM lanes_tui.tasks WHERE state = 'claimed' AND task->>'claim_owner' = %s",
                           (owner,))
        return None if rows is None else [row[0] for row in rows]

    def claimed_by_since(self, owner: str, wall: float) -> int | None:
        rows = self._query("SELECT count(*) FROM lanes_tui.task_events WHERE event->>'type' = 'claimed' "
                           "AND event->'data'->>'owner' = %s AND (event->>'created_at')::timestamptz > "
                           "to_timestamp(%s)", (owner, wall))
        return None if rows is None else rows[0][0]

    def backends(self, application_name: str) -> int | None:
        rows = self._query("SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", (application_name,))
        return None if rows is None else rows[0][0]

    def unfinished(self) -> list[tuple] | None:
        return self._query("SELECT id, state, task->>'claim_owner' FROM lanes_tui.tasks "
                           "WHERE state NOT IN ('completed', 'failed') ORDER BY id")

    def sessions(self) -> list[tuple] | None:
        return self._query("SELECT application_name, state, wait_event_type || ':' || wait_event, "
                           "round(extract(epoch FROM clock_timestamp() - xact_start)::numeric, 1), left(query, 120) "
                           "FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() "
                           "ORDER BY application_name")

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()


@dataclass
class Chaos:
    """The run's driver: waits on conditions, and while it waits does the small acts of chaos
    (worker kills, session terminations) whose moment has come."""

    rng: random.Random
    plan: Plan
    hosts: dict[str, SimulatedHost]
    lives: WorkerLives
    rows: QueueRows
    server: Any
    database: str
    proxy: PartitionProxy
    done: dict[str, int] = field(default_factory=lambda: {
        "supervisor_sigkills": 0, "supervisor_restarts": 0, "worker_sigkills": 0, "termination_rounds": 0,
        "backends_terminated": 0, "server_restarts": 0, "partitions": 0})
    log: list[str] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)
    last_finished: int = 0
    expected_running: set[str] = field(default_factory=lambda: set(HOSTS))

    def say(self, text: str) -> None:
        line = f"[{time.monotonic() - self.started:6.1f} s, {self.last_finished:3d} done] {text}"
        self.log.append(line)
        print(line, flush=True)

    def finished(self) -> int:
        count = self.rows.finished()
        if count is not None:
            self.last_finished = count
        return self.last_finished

    def until(self, condition: Callable[[], Any], what: str, timeout: float) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            self._check_supervisors_alive()
            self._small_chaos()
            value = condition()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"not within {timeout:.0f} s: {what}\n" + "\n".join(self.log[-30:])
                                     + "\n" + self.diagnosis())
            time.sleep(STEP)  # the poll's pace: the condition is what is waited for

    def until_finished(self, count: int, what: str) -> None:
        self.until(lambda: self.finished() >= count, f"{count} tasks finished ({what})", PROGRESS_BOUND)

    def _check_supervisors_alive(self) -> None:
        """A supervisor the test did not kill must never end: whatever the database does, it waits."""
        for host_id in self.expected_running:
            incarnation = self.hosts[host_id].current
            if incarnation.proc.poll() is not None:
                raise AssertionError(f"{host_id}'s supervisor exited ({incarnation.proc.returncode}): "
                                     f"{incarnation.stderr.read_text(errors='replace')[-1500:]}\n"
                                     + "\n".join(self.log[-30:]))

    def diagnosis(self) -> str:
        """What a stuck run looks like: the database's sessions, and each host's last words."""
        lines = ["sessions (application, state, wait, age of transaction, query):"]
        for row in self.rows.sessions() or []:
            lines.append(f"  {row}")
        lines.append("unfinished tasks (id, state, owner) and their workers' lives:")
        for task_id, state, owner in (self.rows.unfinished() or [])[:20]:
            workers = [(life.host, life.pid, "alive" if life.ended is None else "gone")
                       for life in self.lives.snapshot() if life.task == task_id]
            lines.append(f"  {task_id} {state} {owner} {workers}")
        for host in self.hosts.values():
            incarnation = host.current
            tail = [json.dumps(e)[:200] for e in incarnation.events()[-8:]]
            err = incarnation.stderr.read_text(errors="replace")[-1500:]
            lines += [f"{host.host_id} (running: {host.running}) last events:", *tail, f"stderr: {err}"]
        return "\n".join(lines)

    # -- the small acts, due by the count of finished tasks ------------------------------------

    def _reachable_hosts(self) -> list[SimulatedHost]:
        return [h for h in self.hosts.values()
                if h.running and not (h.host_id == PARTITIONED and self.proxy.partitioned)]

    def _small_chaos(self) -> None:
        finished = self.finished()
        if self.plan.worker_kills_at and finished >= self.plan.worker_kills_at[0]:
            reachable = {h.host_id for h in self._reachable_hosts()}
            candidates = [life for life in self.lives.alive() if life.host in reachable]
            if candidates:  # else later, once a worker runs
                victim = self.rng.choice(candidates)
                if self.lives.sigkill(victim):
                    self.done["worker_sigkills"] += 1
                    self.say(f"SIGKILL worker {victim.pid} of {victim.host} on {victim.task}")
                self.plan.worker_kills_at.pop(0)
        if self.plan.terminations_at and finished >= self.plan.terminations_at[0]:
            self.plan.terminations_at.pop(0)
            host = self.rng.choice(self._reachable_hosts())
            share = self.rng.choice((0.3, 0.6, 1.0))
            ended = terminate_backends(self.server, self.database, application_name(host.host_id), share=share,
                                       choose=self.rng.sample)
            self.done["termination_rounds"] += 1
            self.done["backends_terminated"] += ended
            self.say(f"pg_terminate_backend: {ended} session(s) of {host.host_id}")


def application_name(host_id: str) -> str:
    return f"lanes-tui-{host_id}"


def submit_tasks(url: str, root: Path, request: Path, numbers: range, lane: str = "default") -> list[str]:
    from lanes_tui.storage.postgres import PostgresBackend

    store = PostgresBackend(url)
    try:
        return [store.create_task(workspace_id="ws", correlation_id=f"chaos-{n}", source_agent="chaos-test",
                                  lane=lane, workspace_root=root, request_path=request,
                                  response_path=root / f"out-{n}.md", prompt=f"task {n} of the chaos run",
                                  metadata={"required_vendor": "claude"})["id"] for n in numbers]
    finally:
        store.close()


def seconds_after(event: dict[str, Any], wall: float) -> float:
    return parse_ts(event["created_at"]).timestamp() - wall


def first_claim_after(events: list[dict[str, Any]], wall: float, not_by: set[str]) -> dict[str, Any] | None:
    return next((e for e in events if e.get("type") == "claimed" and (e.get("data") or {}).get("owner") not in not_by
                 and seconds_after(e, wall) > 0), None)


def last_lease_end(events: list[dict[str, Any]], owner: str, before: float | None) -> float | None:
    """When the last lease the database granted `owner` on this task ran out (wall clock)."""
    granted = [parse_ts(e["created_at"]).timestamp() for e in events
               if e.get("type") in ("claimed", "renewed") and (e.get("data") or {}).get("owner") == owner
               and (before is None or parse_ts(e["created_at"]).timestamp() < before)]
    return max(granted) + LEASE["lease_seconds"] if granted else None


def spread(values: list[float]) -> dict[str, float] | None:
    if not values:
        return None
    return {"min": round(min(values), 2), "median": round(statistics.median(values), 2),
            "max": round(max(values), 2), "count": len(values)}


def test_three_hosts_drain_a_postgres_queue_through_kills_restarts_terminations_and_a_partition(
        workspace, postgres_server, postgres_url, tmp_path):
    from lanes_tui.storage.postgres import PostgresBackend

    began = time.monotonic()
    seed = int(os.environ.get(SEED_ENV) or random.SystemRandom().randrange(1 << 32))
    print(f"\nchaos seed {seed} (replay with {SEED_ENV}={seed})", flush=True)
    rng = random.Random(seed)
    plan = Plan.draw(rng)
    database = postgres_url.split("/")[3].split("?")[0]
    settings = {h: write_settings(tmp_path / f"lanes-tui.{h}.yaml", lane=LEASE, kill_grace_seconds=0.5,
                                  shutdown_grace_seconds=1, concurrency={"global": slots, "vendors": {"claude": slots}},
                                  lanes={REJOIN_LANE: {} if h == PARTITIONED else {"mode": "external"}})
                for h, slots in ((PARTITIONED, CUT_OFF_SLOTS), (RESTARTED, SLOTS), (DEAD, SLOTS))}
    bin_dir = install_standins(tmp_path / "bin")
    alive_log = tmp_path / "alive.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("STANDIN_")}
    env.update(PATH=os.pathsep.join([str(bin_dir), env.get("PATH", "")]), STANDIN_MODE="slow",
               STANDIN_ALIVE_LOG=str(alive_log), LANES_TUI_DEBUG="1")  # a host that ends says where
    proxy = PartitionProxy(socket_of(postgres_server.socket_dir))
    out_dir = tmp_path / "hosts"
    out_dir.mkdir()

    def url_of(host_id: str) -> str:
        url = via(postgres_url, proxy, postgres_server.socket_dir) if host_id == PARTITIONED else postgres_url
        return named(url, application_name(host_id))

    def env_of(host_id: str) -> dict[str, str]:
        return {**env, "STANDIN_DELAY": str(CUT_OFF_AGENT_DELAY if host_id == PARTITIONED else AGENT_DELAY)}

    hosts = {h: SimulatedHost(h, config=workspace.config, settings=settings[h], cwd=workspace.root, url=url_of(h),
                              env=env_of(h),
                              out_dir=out_dir) for h in HOSTS}
    lives = WorkerLives(alive_log)
    rows = QueueRows(postgres_url)
    chaos = Chaos(rng, plan, hosts, lives, rows, postgres_server, database, proxy)
    figures: dict[str, Any] = {"seed": seed, "tasks": TASKS, "hosts": list(HOSTS),
                               "slots_per_host": {h: CUT_OFF_SLOTS if h == PARTITIONED else SLOTS for h in HOSTS},
                               "lease_seconds": LEASE["lease_seconds"], "dead_after_seconds": DEAD_AFTER_SECONDS}
    try:
        submitted_at = time.monotonic()
        task_ids = submit_tasks(postgres_url, workspace.root, workspace.request, range(TASKS - REJOIN_TASKS))
        figures["submit_seconds"] = round(time.monotonic() - submitted_at, 2)
        for host in hosts.values():
            host.start()
        for host in hosts.values():
            host.wait_started()
        chaos.started = time.monotonic()
        chaos.say(f"{TASKS} tasks submitted in {figures['submit_seconds']} s; 3 supervisors started")

        # -- host-2 dies and comes back under the same identity ------------------------------------
        chaos.until_finished(plan.restart_host_at, "before host-2's SIGKILL")
        restarted = hosts[RESTARTED]
        chaos.until(lambda: lives.alive(RESTARTED), "host-2 runs a worker", PROGRESS_BOUND)
        orphans = lives.alive(RESTARTED)
        killed_owner = restarted.owner
        killed_at = time.monotonic()
        chaos.expected_running.discard(RESTARTED)
        restarted.sigkill()
        chaos.done["supervisor_sigkills"] += 1
        chaos.say(f"SIGKILL supervisor {killed_owner} ({len(orphans)} worker(s) running)")
        chaos.until(lambda: all(life.ended is not None for life in orphans),
                    "the killed supervisor's workers die with it", 30)
        orphans_gone = max(life.ended for life in orphans) - killed_at
        restarted.start()
        back = restarted.wait_started()
        chaos.expected_running.add(RESTARTED)
        chaos.done["supervisor_restarts"] += 1
        chaos.say(f"{restarted.owner} started again: {len(back['recovered_tasks'])} claim(s) of its predecessor "
                  f"re-queued, {len(back['killed_leftover_workers'])} leftover worker(s) killed")
        figures["restarted_host"] = {
            "workers_at_sigkill": len(orphans), "workers_gone_after_seconds": round(orphans_gone, 3),
            "recovered_tasks": len(back["recovered_tasks"]),
            "killed_leftover_workers": len(back["killed_leftover_workers"]),
            "predecessor_claims_left": len(rows.claimed_by(killed_owner) or [])}

        # -- the server restarts under everybody -----------------------------------------------------
        chaos.until_finished(plan.server_restart_at, "before the server restart")
        restart_began = time.monotonic()
        restart(postgres_server)
        chaos.done["server_restarts"] += 1
        before = chaos.finished()
        chaos.say(f"server restarted in {time.monotonic() - restart_began:.2f} s")
        chaos.until_finished(before + 10, "the supervisors go on after the server restart")
        assert all(h.running for h in hosts.values()), "a supervisor did not survive the server restart"

        # -- host-3 dies for good ------------------------------------------------------------------------
        chaos.until_finished(plan.host_death_at, "before host-3's death")
        dead = hosts[DEAD]
        chaos.until(lambda: lives.alive(DEAD), "host-3 runs a worker", PROGRESS_BOUND)
        dead_owner = dead.owner
        died_wall = time.time()
        chaos.expected_running.discard(DEAD)
        dead.sigkill()
        chaos.done["supervisor_sigkills"] += 1
        # Its sessions end with it; what it committed before is what it holds.
        chaos.until(lambda: rows.backends(application_name(DEAD)) == 0, "host-3's sessions end", 30)
        chaos.until(lambda: rows.claimed_by(dead_owner) is not None, "host-3's claims read", 30)
        held_by_dead = rows.claimed_by(dead_owner)
        chaos.say(f"SIGKILL {dead_owner} for good; it held {len(held_by_dead)} task(s)")

        # -- host-1 is cut off ----------------------------------------------------------------------------
        chaos.until_finished(plan.partition_at, "before the partition")
        cut = hosts[PARTITIONED]
        chaos.until(lambda: lives.alive(PARTITIONED), "host-1 runs a worker", PROGRESS_BOUND)
        proxy.partition()
        chaos.done["partitions"] += 1
        partitioned_wall = time.time()
        cut_off_workers = lives.alive(PARTITIONED)
        held_by_cut = chaos.until(lambda: rows.claimed_by(cut.owner) is not None, "host-1's claims read", 30)
        held_by_cut = rows.claimed_by(cut.owner)
        chaos.say(f"partition of {cut.owner}: {len(cut_off_workers)} worker(s) running, "
                  f"{len(held_by_cut)} task(s) held")
        # Healed once the others have taken every task the cut-off host held (and the dead one).
        chaos.until(lambda: rows.claimed_by(cut.owner) == [] and rows.claimed_by(dead_owner) == [],
                    "the other hosts rescue the partitioned and the dead host's tasks", RESCUE_BOUND)
        assert all(life.ended is not None for life in cut_off_workers), "a cut-off worker outlived the rescue"
        healed_wall = time.time()
        proxy.heal()
        rejoin_ids = submit_tasks(postgres_url, workspace.root, workspace.request, range(TASKS - REJOIN_TASKS, TASKS),
                                  lane=REJOIN_LANE)
        task_ids += rejoin_ids
        chaos.say(f"partition healed; {REJOIN_TASKS} tasks only host-1 runs submitted")
        chaos.until(lambda: (rows.claimed_by_since(cut.owner, healed_wall) or 0) > 0,
                    "host-1 claims a task again after the partition", PROGRESS_BOUND)
        chaos.say(f"{cut.owner} claims again")

        # -- the rest of the queue ------------------------------------------------------------------------
        chaos.until(lambda: chaos.finished() >= TASKS, "every task finished", DRAIN_BOUND)
        chaos.say("drained")
        survivors = [h.host_id for h in hosts.values() if h.running]
        assert survivors == [PARTITIONED, RESTARTED], survivors
        chaos.expected_running.clear()
        for host_id in survivors:
            hosts[host_id].stop()
        chaos.until(lambda: not lives.alive(), "every worker gone", 30)

        # -- the figures ----------------------------------------------------------------------------------
        store = PostgresBackend(postgres_url)
        try:
            tasks = {task_id: store.read_task(task_id) for task_id in task_ids}
            responses = {task_id: store.read_response(task_id) for task_id in task_ids}
            events = {task_id: store.read_events(task_id).events for task_id in task_ids}
        finally:
            store.close()
        answered = {task_id: sum(1 for e in evs if e.get("type") == "response") for task_id, evs in events.items()}
        lost = sorted(t for t, task in tasks.items() if task["state"] not in ("completed", "failed")
                      or responses[t] is None or answered[t] == 0)
        twice = sorted(t for t, count in answered.items() if count > 1)
        failed = sorted(t for t, task in tasks.items() if task["state"] == "failed")
        overlaps = lives.overlaps()
        all_owners = {o for h in hosts.values() for o in h.owners()}
        dead_rescues = [seconds_after(first_claim_after(events[t], died_wall, {dead_owner}), died_wall)
                        for t in held_by_dead if first_claim_after(events[t], died_wall, {dead_owner})]
        cut_rescues = [seconds_after(first_claim_after(events[t], partitioned_wall, {cut.owner}), partitioned_wall)
                       for t in held_by_cut if first_claim_after(events[t], partitioned_wall, {cut.owner})]
        fence_margins = []
        for life in cut_off_workers:
            rescue = first_claim_after(events[life.task], partitioned_wall, {cut.owner})
            ends = last_lease_end(events[life.task], cut.owner,
                                  parse_ts(rescue["created_at"]).timestamp() if rescue else None)
            if ends is not None and life.ended_wall is not None:
                fence_margins.append(ends - life.ended_wall)
        # How the cut-off host's attempts ended, as it said once it could again: a lost claim is its
        # fence; an answer refused is one its agent finished after the claim had gone to a rescuer.
        cut_off_tasks = {life.task for life in cut_off_workers}
        abandoned = [e for e in cut.current.events() if e.get("event") == "worker_abandoned"
                     and e["task_id"] in cut_off_tasks and e["time"] > partitioned_wall]
        fenced = {e["task_id"] for e in abandoned if str(e.get("reason", "")).startswith("claim lost")}
        refused = {e["task_id"] for e in abandoned if str(e.get("reason", "")).startswith("answer not recorded")}
        answers_after_heal = sum(1 for evs in events.values() for e in evs if e.get("type") == "response"
                                 and (e.get("data") or {}).get("reviewer") == cut.owner
                                 and seconds_after(e, healed_wall) > 0)
        by_reviewer: dict[str, int] = {}
        for task_id, response in responses.items():
            if response is not None:
                host = str(response.get("reviewer", "")).partition("@")[2].rpartition(":")[0]
                by_reviewer[host] = by_reviewer.get(host, 0) + 1
        figures.update({
            "lost": len(lost), "answered_twice": len(twice), "two_live_workers_on_one_task": len(overlaps),
            "failed": len(failed), "completed": sum(1 for t in tasks.values() if t["state"] == "completed"),
            "workers_started": len(lives.snapshot()),
            "worker_lives_seen_only_after_death": sum(1 for life in lives.snapshot() if not life.exact),
            "claims": sum(1 for evs in events.values() for e in evs if e.get("type") == "claimed"),
            "attempts_failed": sum(1 for evs in events.values() for e in evs if e.get("type") == "attempt_failed"),
            "answers_by_host": by_reviewer,
            "chaos": dict(chaos.done),
            "dead_host": {"tasks_held": len(held_by_dead), "rescue_seconds_after_sigkill": spread(dead_rescues)},
            "partitioned_host": {"workers_cut_off": len(cut_off_workers), "tasks_held": len(held_by_cut),
                                 "rescue_seconds_after_partition": spread(cut_rescues),
                                 "workers_fenced": len(fenced), "stale_answers_refused": len(refused),
                                 "answers_after_heal": answers_after_heal,
                                 "worker_gone_seconds_before_its_lease_ran_out": spread(fence_margins)},
            "foreign_owners": sorted({e["data"]["owner"] for evs in events.values() for e in evs
                                      if e.get("type") == "claimed"} - all_owners),
            "runtime_seconds": round(time.monotonic() - began, 1),
        })
        (tmp_path / "chaos-figures.json").write_text(json.dumps(figures, indent=2), encoding="utf-8")
        print(json.dumps(figures, indent=2), flush=True)

        assert lost == [], f"lost: {lost[:10]}"
        assert twice == [], f"answered twice: {twice[:10]}"
        assert overlaps == [], [(a.task, a.host, a.pid, b.host, b.pid, b.started - a.started, a.exact)
                                for a, b in overlaps[:10]]
        assert failed == [], [tasks[t]["failure_reason"] for t in failed[:5]]
        assert len(dead_rescues) == len(held_by_dead) > 0
        assert len(cut_rescues) == len(held_by_cut) > 0
        # Self-fencing: every cut-off worker was gone while its last lease still ran.
        assert len(fence_margins) == len(cut_off_workers) and all(m > 0 for m in fence_margins), fence_margins
        assert figures["foreign_owners"] == []
        # Rejoined: the partitioned host, the same process, answered the tasks only it runs.
        assert {responses[t]["reviewer"] for t in rejoin_ids} == {cut.owner}
    finally:
        proxy.heal()
        for host in hosts.values():
            host.kill_if_running()
        lives.close()
        rows.close()
        proxy.close()
        (tmp_path / "chaos-log.txt").write_text("\n".join(chaos.log) + "\n", encoding="utf-8")
