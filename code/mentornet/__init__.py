"""MentorNet: learning data-driven curricula for deep networks on corrupted labels.

A TensorFlow 2 port of the ICML 2018 research code. The library lives in this
package; the scripts in `code/` are thin flag parsers over it.
"""

__version__ = "0.1.0"
