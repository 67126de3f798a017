"""The student's subprocess entry points (`python -m lion_cli.student.scripts.train|generate|score`,
plain or under torchrun / deepspeed / accelerate) and their private helpers.

They import nothing of lion outside this package but lion_cli.student.specs (an import-linter
contract), so a job runs wherever torch does, and a crash or an OOM cannot take lion down with it.
"""
