"""MentorNet with a Keras model of your own: README's example, runnable.

Trains a small convolutional network with `model.fit` and the shipped
MentorNet PD curriculum on the embedded demo data (5,000 CIFAR-10 images,
40% of the labels corrupted by `prepare_noisy_cifar.py`), then prints its
accuracy on the 1,000 clean demo test images:

    python code/keras_fit_example.py        (from any directory)

It works in the repository (the demo data and runs/ are found from this
file's place): TensorBoard summaries go to runs/keras_example, and a killed
run started again resumes from runs/keras_example/backup. It takes no flags.
"""
import os
import sys

if any(arg in ("-h", "--help", "-help", "--helpfull") for arg in sys.argv[1:]):
  print(__doc__.strip())
  sys.exit(0)
if sys.argv[1:]:
  sys.exit(f"keras_fit_example.py: error: it takes no arguments (got "
           f"{' '.join(sys.argv[1:])}); see --help")
os.chdir(os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir))
from mentornet_cli import cli  # pylint: disable=g-import-not-at-top,wrong-import-position

cli.load_tensorflow()  # quietly

# README's example, as written there (kept as README shows it):
# yapf: disable
import keras
from mentornet.data import inputs
from mentornet.training import keras_model

keras.utils.set_random_seed(0)
train = inputs.supervised_dataset("data/demo/cifar10/0.4", "cifar10", "train",
                                  batch_size=128, shuffle_seed=0)
test = inputs.supervised_dataset("data/demo/cifar10/val", "cifar10", "test", 500)
student = keras.Sequential([  # any Keras classifier of your own
    keras.Input((32, 32, 3)), keras.layers.Conv2D(32, 3, activation="relu"),
    keras.layers.MaxPooling2D(), keras.layers.Conv2D(64, 3, activation="relu"),
    keras.layers.MaxPooling2D(), keras.layers.Flatten(), keras.layers.Dense(10)])
model = keras_model.MentorNetModel(
    student, "mentornet_models/models/mentornet_pd1_g_1/mentornet_pd",
    loss_p_percentile=0.75, example_dropout_rates="0.5,17,0.05,83")
model.compile(optimizer=keras.optimizers.SGD(0.02, momentum=0.9),
              loss=keras.losses.SparseCategoricalCrossentropy(
                  from_logits=True, reduction=None), metrics=["accuracy"])
model.fit(train, epochs=8, verbose=2, callbacks=[
    keras.callbacks.BackupAndRestore("runs/keras_example/backup"),
    keras.callbacks.TensorBoard("runs/keras_example")])
print("test accuracy %.4f" % model.evaluate(test, verbose=0)[1])
# yapf: enable
