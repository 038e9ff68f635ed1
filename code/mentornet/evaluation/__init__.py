"""Evaluating StudentNet checkpoints, as a job beside training.

  evaluate.py   the evaluation job (accuracy and loss per checkpoint)
  watch.py      the watched run: its record, its checkpoints, the wait for new ones
  waiting.py    the line it says at once: what it waits for, how long
  loss_dump.py  the per-example loss dump and its row format
  label_issues.py  --mode=label_issues: training labels ranked by suspicion
  output.py     what it writes: CSV rows, summaries, the picture
  plot.py       the evaluation CSV drawn as a PNG
"""
