"""StudentNets: the image classifiers trained on noisy labels.

The names are the original's: `resnet101` is really a wide pre-activation
ResNet (the original `resnet_model.py`) and `inception` is really the small CifarNet (`inception_model.py`).
"""

from mentornet.students import cifarnet
from mentornet.students import resnet

STUDENTNETS = ("resnet101", "inception")


def build_studentnet(studentnet, num_classes, num_residual_units=9,
                     resnet_widths=(160, 320, 640)):
  """Builds a StudentNet Keras model returning logits.

  Args:
    studentnet: `resnet101` or `inception`.
    num_classes: number of classes.
    num_residual_units: residual units per stage (resnet101 only).
    resnet_widths: the three stage widths (resnet101 only).

  Returns:
    A `keras.Model`; its `losses` hold the original's weight decay.
  """
  if studentnet == "resnet101":
    return resnet.wide_resnet(num_classes, num_residual_units, resnet_widths)
  if studentnet == "inception":
    return cifarnet.cifarnet(num_classes)
  raise ValueError(f"unknown studentnet '{studentnet}'; choose one of "
                   f"{', '.join(STUDENTNETS)}")
