"""The error types ``model/`` raises and ``host/`` shares; the CLI prints their message on one line.

Each names what was wrong and what is allowed, so a user can act on it. ``host.errors`` adds the
errors of the plugin host, the data builders and the OSC bridge on top of :class:`EqbridgeError`.
"""


class EqbridgeError(Exception):
    """Base class for every error eqbridge reports to a user."""


class ProfileError(EqbridgeError):
    """A plugin profile is unknown, malformed, or does not match the plugin it describes."""


class ProfileMismatchError(ProfileError):
    """A checkpoint or dataset was made for another plugin profile than the one requested."""


class CheckpointError(EqbridgeError):
    """A model, controller or encoder checkpoint is missing, unreadable, or of another format."""


class AudioInputError(EqbridgeError):
    """An audio file or folder is missing, unreadable, silent, too short or otherwise unusable."""


class DatasetError(EqbridgeError):
    """A dataset folder is missing, inconsistent, or made for another plugin."""


class ConfigError(EqbridgeError, ValueError):
    """A training, model or fit configuration is unreadable or has an unknown or out-of-range setting."""


class OptionError(EqbridgeError, ValueError):
    """An option is out of range, names an unknown mode, or does not apply to the chosen mode."""
