"""The data: noisy CIFAR records and the pipelines that read them.

  schema.py      the record keys (no TensorFlow)
  datasets.py    the dataset registry: classes, image size, label key, TFDS name
  records.py     records written and parsed
  shards.py      a data directory's record files: found, checked, counted,
                 fingerprinted
  inputs.py      tf.data pipelines: the training stream (seeded whole passes,
                 resumable at any step), evaluation, batches for model.fit
  noise.py       label-noise generators (NumPy, seeded, pure)
  cifar_data.py  noisy CIFAR from tensorflow-datasets in the original layout
"""
