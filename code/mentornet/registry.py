"""A named registry of entries (StudentNets, datasets) with one-line errors."""

from mentornet import errors


class Registry:
  """Entries by name; `get` of an unknown name says what is allowed."""

  def __init__(self, flag):
    self.flag = flag  # the command-line flag that picks an entry
    self.entries = {}

  def register(self, entry, check=None):
    """Adds (or replaces) `entry` under `entry.name`; returns it."""
    if check:
      check(entry)
    self.entries[entry.name] = entry
    return entry

  def get(self, name):
    if name not in self.entries:
      raise errors.BadInput(f"--{self.flag}={name} is unknown; choose "
                            f"{' or '.join(self.names())}")
    return self.entries[name]

  def names(self):
    return tuple(self.entries)
