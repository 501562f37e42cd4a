#!/usr/bin/env bash
# Installs everything eqbridge needs into .venv; as root on Debian also the plugins and audio packages.
# Idempotent: a second run only checks. Used by the README's two commands and by CI.
set -euo pipefail
cd "$(dirname "$0")/.."

# ardour: Debian's Ardour 7 (ardour7-lua runs a headless session for the DAW tests, tests/host/ardour_harness.py).
# lua5.4: REAPER's Lua version, runs examples/reaper_eqbridge.lua in tests/host/test_reaper_script.py.
# The last five (about 550 MB of downloads) are the music of `eqbridge corpus build --sources all`.
DEBIAN_PACKAGES=(zam-plugins lsp-plugins-vst ardour lua5.4 ktuberling-data sonic-pi-samples fluidsynth fluid-soundfont-gm
  ufoai-music singularity-music planetblupi-music-ogg musescore-general-soundfont wesnoth-1.16-music)
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  missing=()
  for p in "${DEBIAN_PACKAGES[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  if [ ${#missing[@]} -gt 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
  fi
else
  echo "setup: not root: skipping Debian packages (${DEBIAN_PACKAGES[*]}); the embedded Faust EQ still works" >&2
fi

PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
# torch pinned first: an unpinned torch would pull a multi-GB CUDA build.
.venv/bin/python -m pip install -q --disable-pip-version-check torch==2.13.0 2>&1 | grep -v "^WARNING: Location" || true
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test,cluster,baselines]' 2>&1 | grep -v "^WARNING: Location" || true
.venv/bin/python -c "import dawdreamer, torch, host.cli, model" || { echo "setup: install failed" >&2; exit 1; }
