"""Run student code in an isolated child process (DESIGN.md §6, issue 4).

```python
from autograder.sandbox import Sandbox, Limits, TaskResult
with Sandbox(workdir, task_module="autograder.tasks", limits=Limits()) as sb:
    r = sb.run("task_name", {"x": torch.randn(2, 3)})
    print(sb.protections)
with Sandbox(workdir, zygote=warm_zygote()) as sb:  # forked from a process that imported torch once
    ...
```
"""
from autograder.sandbox.sandbox import Limits, Sandbox, SandboxError, TaskResult
from autograder.sandbox.zygote import Zygote, warm_zygote

__all__ = ["Limits", "Sandbox", "SandboxError", "TaskResult", "Zygote", "warm_zygote"]
