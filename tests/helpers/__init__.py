"""Helpers shared by the test packages (importable as `helpers.*`: pytest puts tests/ on sys.path).

clock       ManualClock: the one hand-moved clock of the suite
procio      reading a subprocess's stderr line by line, with a bound
standins    the stand-in claude/codex executables on PATH (tests/standin/agent_standin.py)
supervisor  running supervisors in-process or as `--no-ui` processes, and waiting on them
"""
