"""The addresses of eqbridge's OSC protocol (examples/README_osc.md documents each message)."""

PREFIX = "/eqbridge"
PING = f"{PREFIX}/ping"
PONG = f"{PREFIX}/pong"
MATCH = f"{PREFIX}/match"
MATCH_CLIPS = f"{PREFIX}/match_clips"
MATCH_REGION = f"{PREFIX}/match_region"
PUSHED = f"{PREFIX}/pushed"
MATCH_MULTI = f"{PREFIX}/match_multi"      # stereo mode, link, range, several weighted references
MATCH_CLIPS_MULTI = f"{PREFIX}/match_clips_multi"  # the same on clips sent over OSC
CHANNEL_SETTINGS = f"{PREFIX}/channel/settings"
CHANNEL_NORMALIZED = f"{PREFIX}/channel/normalized"
CHANNEL_AUTOMATION = f"{PREFIX}/channel/automation"
CLIP_BEGIN = f"{PREFIX}/clip/begin"
CLIP_CHUNK = f"{PREFIX}/clip/chunk"
CLIP_END = f"{PREFIX}/clip/end"
CLIP_MISSING = f"{PREFIX}/clip/missing"
SETTINGS = f"{PREFIX}/settings"
NORMALIZED = f"{PREFIX}/normalized"
AUTOMATION = f"{PREFIX}/automation"
DONE = f"{PREFIX}/done"
EXPLORE = f"{PREFIX}/explore"
VARIANT = f"{PREFIX}/variant"
ERROR = f"{PREFIX}/error"

# Logged by `eqbridge serve` once it listens; scripts that start it on port 0 read the port from it.
READY_LINE = "eqbridge serve ready port=%d"
