"""Evaluating StudentNet checkpoints, as a job beside training.

  evaluate.py   the polling evaluation job (accuracy and loss per checkpoint)
  loss_dump.py  the per-example loss dump and its row format
  output.py     what it writes: CSV rows, summaries, the picture
  plot.py       the evaluation CSV drawn as a PNG
"""
