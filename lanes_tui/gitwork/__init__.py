"""Git for task isolation: a worktree and a branch per task, results as commits, nothing lost."""
