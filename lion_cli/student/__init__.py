"""The student engine, split by the process that runs the code:

- specs/: the job specs, declared once (stdlib only; the scripts read them, the launch side writes them).
- launcher.py, jobs.py: lion's side. Build a job's command line, run it in its own process group,
  read its results.
- scripts/: the subprocess entry points (train, generate, score) and their private helpers.
"""
