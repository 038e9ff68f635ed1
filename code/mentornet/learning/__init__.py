"""Learning MentorNets: their training data, fitting them, looking at them.

  vstar.py      the predefined curricula v* (NumPy)
  generate.py   training rows from a predefined v* or from a loss dump
  fit.py        fitting a MentorNet (guarded, resumable directory)
  visualize.py  a curriculum's pictures and animation
"""
