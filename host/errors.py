"""Exceptions a user can act on; the CLI prints their message on one line and exits non-zero."""


class EqbridgeError(Exception):
    """Base class for every error eqbridge reports to a user."""


class ProfileError(EqbridgeError):
    """A plugin profile is unknown, malformed, or does not match the plugin it describes."""


class PluginNotFoundError(EqbridgeError):
    """The plugin binary a profile names is not installed here."""


class AudioInputError(EqbridgeError):
    """An audio file or folder is missing, unreadable, silent, too short or otherwise unusable."""


class DatasetError(EqbridgeError):
    """A dataset folder is missing, inconsistent, or made for another plugin."""


class CorpusError(EqbridgeError):
    """A corpus folder is inconsistent (e.g. built with another seed) or a source failed to build."""


class SourcePackageMissingError(CorpusError):
    """A corpus source needs a Debian package that is not installed; the message names it."""


class ProfileMismatchError(ProfileError):
    """A checkpoint or dataset was made for another plugin profile than the one requested."""


class ConfigError(EqbridgeError):
    """A training or model configuration is unreadable or has an unknown or out-of-range setting."""


class OscRequestError(EqbridgeError):
    """An OSC request is malformed or cannot be served; ``request_id`` is -1 when none could be parsed.

    The OSC server answers it with ``/eqbridge/error ,is request_id message`` and keeps serving.
    """

    def __init__(self, request_id: int, message: str) -> None:
        super().__init__(message)
        self.request_id = request_id


class MidiPortError(EqbridgeError):
    """A live MIDI output cannot be opened: python-rtmidi is missing or the port does not exist."""


class ApplyOptionError(EqbridgeError):
    """An `eqbridge apply` option is out of range or names an unknown mode."""


class ClusterError(EqbridgeError):
    """Ray is not installed, the cluster cannot be reached, or a shard failed on every retry."""
