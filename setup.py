"""Installs the `mentornet` library from `code/`."""

import setuptools

setuptools.setup(
    name="mentornet",
    version="0.1.0",
    description="MentorNet (ICML 2018) on TensorFlow 2: learning data-driven "
                "curricula for deep networks on corrupted labels",
    license="Apache-2.0",
    package_dir={"": "code"},
    packages=setuptools.find_packages("code"),
    python_requires=">=3.10",
    install_requires=[
        "tensorflow>=2.21,<2.22", "tensorboard", "keras>=3.10", "tensorflow-datasets>=4.9",
        "importlib_resources", "absl-py", "numpy", "imageio", "matplotlib",
    ],
)
