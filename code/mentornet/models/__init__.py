"""The networks: StudentNets (a registry) and the MentorNet.

  students/      the StudentNet registry (builder, optimizer, each training
                 script's rules, padding); resnet.py ("resnet101"),
                 cifarnet.py ("inception")
  mentor.py      the MentorNet network; TF2 and original TF1 checkpoints
  optimizers.py  TF1-style momentum and the original learning-rate schedules
  weight_average.py  averaged weights for evaluation (MentorMix)
  precision.py   mixed precision: Keras' policies, float16's loss scaling,
                 the warning when the hardware has no fast path
"""
