"""eqbridge host side: plugins, audio files, rendering, datasets, the DAW bridge and the CLI."""
