"""Errors of the plugin host, the data builders and the OSC bridge; the shared ones come from model.errors.

The CLI prints any :class:`EqbridgeError` on one line and exits with :data:`USER_ERROR_EXIT`.
"""

from model.errors import (AudioInputError, CheckpointError, ConfigError, DatasetError, EqbridgeError,
                          OptionError, ProfileError, ProfileMismatchError)

__all__ = ["AudioInputError", "BenchmarkError", "CheckpointError", "ClusterError", "ConfigError", "CorpusError", "DatasetError",
           "DawError", "DawNotAnsweringError", "DawPluginMismatchError", "EqbridgeError", "MidiPortError", "OptionError", "OscRequestError", "PluginNotFoundError",
           "ProfileError", "ProfileMismatchError", "SourcePackageMissingError"]


class PluginNotFoundError(EqbridgeError):
    """The plugin binary a profile names is not installed here."""


class CorpusError(EqbridgeError):
    """A corpus folder is inconsistent (e.g. built with another seed) or a source failed to build."""


class SourcePackageMissingError(CorpusError):
    """A corpus source needs a Debian package that is not installed; the message names it."""


class OscRequestError(EqbridgeError):
    """An OSC request is malformed or cannot be served; ``request_id`` is -1 when none could be parsed.

    The OSC server answers it with ``/eqbridge/error ,is request_id message`` and keeps serving.
    """

    def __init__(self, request_id: int, message: str) -> None:
        super().__init__(message)
        self.request_id = request_id


class MidiPortError(EqbridgeError):
    """A live MIDI output cannot be opened: python-rtmidi is missing or the port does not exist."""


class BenchmarkError(EqbridgeError):
    """What a benchmark times failed; the message ends with that command's own error line."""


class ClusterError(EqbridgeError):
    """Ray is not installed, the cluster cannot be reached, or a shard failed on every retry."""


class DawError(EqbridgeError):
    """A DAW target cannot take the settings: no such strip or plugin, a parameter missing, values not taken."""


class DawNotAnsweringError(DawError):
    """The DAW did not answer its OSC surface within the timeout; nothing was set."""


class DawPluginMismatchError(DawError):
    """The plugin on the DAW's strip is not the one the settings' profile describes (the message names both)."""
