"""A run's safety, below training and evaluation, which both use it.

  run_dir.py      the run directory: locks, the run's record, worker roles
  checkpoints.py  a run's checkpoints from the files on disk, resume
  safety.py       stop signals, finite state, guarded saves

Nothing here imports `training`, `evaluation` or `learning`; its errors are
`mentornet.errors`.
"""
