"""The keys of the CIFAR records (`tf.train.Example`s), without TensorFlow.

The original's keys: `image/encoded` (PNG), `image/format` and
`image/class/label` (CIFAR-100 also `image/class/fine_label`), holding the
NOISY label; and two keys the original lacked, `image/class/clean_label` and
`image/id`.
"""

ENCODED = "image/encoded"
FORMAT = "image/format"
LABEL = "image/class/label"
FINE_LABEL = "image/class/fine_label"
CLEAN_LABEL = "image/class/clean_label"
ID = "image/id"
MISSING = -1  # clean label / id of records in the original format.
