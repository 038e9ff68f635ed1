"""Installs the `mentornet` library and the original scripts from `code/`."""

import setuptools

SCRIPTS = ("cifar_train_baseline", "cifar_train_mentornet",
           "cifar_train_mentormix", "cifar_eval", "prepare_noisy_cifar")
# code/training_mentornet/<name>.py, installed as mentornet_<name>.
MENTORNET_SCRIPTS = ("data_generator", "train", "visualizer", "evaluate")

setuptools.setup(
    name="mentornet",
    version="0.1.0",
    description="MentorNet (ICML 2018) on TensorFlow 2: learning data-driven "
                "curricula for deep networks on corrupted labels",
    license="Apache-2.0",
    package_dir={"": "code"},
    packages=setuptools.find_packages("code"),
    py_modules=list(SCRIPTS) + ["plot_runs"] + [
        f"training_mentornet.{name}" for name in MENTORNET_SCRIPTS],
    entry_points={"console_scripts": [
        f"{name}={name}:run" for name in SCRIPTS] + [
            f"mentornet_{name}=training_mentornet.{name}:run"
            for name in MENTORNET_SCRIPTS] + [
                "mentornet_plot=plot_runs:run"]},
    python_requires=">=3.10",
    install_requires=[
        "tensorflow>=2.21,<2.22", "tensorboard", "keras>=3.10",
        "tensorflow-datasets>=4.9", "importlib_resources", "absl-py", "numpy",
        "imageio", "matplotlib",
    ],
)
