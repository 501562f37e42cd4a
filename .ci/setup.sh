#!/usr/bin/env bash
# Installs eqbridge into .venv; as root on Debian also the Debian packages. Idempotent: a second run only checks.
#   bash .ci/setup.sh main   what `eqbridge match|apply|serve|...` need: the Python packages, and the plugins
#                            (zam-plugins, lsp-plugins-vst) for --plugin zameq2 / lsp-para-eq. The README's first command.
#   bash .ci/setup.sh all    main, plus the tests (pytest, hypothesis), Ray (--executor ray), Matchering (the
#                            baseline), fluidsynth and the corpus music. The README's test command and CI (.ci/run).
# Each step prints one line when it starts and when it ends, with the seconds it took.
set -euo pipefail
cd "$(dirname "$0")/.."

MODE=${1:-main}
case "$MODE" in
  main) EXTRAS="" ;;
  all) EXTRAS="[test,cluster,baselines]" ;;
  *) echo "setup: unknown set '$MODE': use 'main' (what matching needs) or 'all' (also tests, Ray, Matchering, corpus)" >&2
     exit 2 ;;
esac

# `all`: every Debian package the tests and the corpus use. ardour: Debian's Ardour 7 (ardour7-lua runs a
# headless session for the DAW tests); lua5.4: REAPER's Lua, runs examples/reaper_eqbridge.lua in the tests.
# The last five (about 550 MB of downloads) are the music of `eqbridge corpus build --sources all`.
DEBIAN_PACKAGES=(zam-plugins lsp-plugins-vst ardour lua5.4 ktuberling-data sonic-pi-samples fluidsynth fluid-soundfont-gm
  ufoai-music singularity-music planetblupi-music-ogg musescore-general-soundfont wesnoth-1.16-music)
# `main`: only the plugins match and apply can use.
MAIN_DEBIAN_PACKAGES=(zam-plugins lsp-plugins-vst)
if [ "$MODE" = main ]; then DEBIAN_PACKAGES=("${MAIN_DEBIAN_PACKAGES[@]}"); fi

START=$SECONDS
step() { echo "setup [$((SECONDS - START)) s]: $*"; }

# pip's own lines, less its chatter: what it collects, downloads and installs.
pip_progress() { grep --line-buffered -E "^ *(Collecting|Downloading|Installing collected|Successfully installed|ERROR)" || true; }

step "$MODE: Debian packages (${DEBIAN_PACKAGES[*]})"
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  missing=()
  for p in "${DEBIAN_PACKAGES[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  if [ ${#missing[@]} -gt 0 ]; then
    step "apt-get install ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" \
      | grep --line-buffered -E "^(Get:|Setting up)" || true
  else
    step "all installed"
  fi
else
  echo "setup: not root: skipping Debian packages (${DEBIAN_PACKAGES[*]}); the embedded Faust EQ still works" >&2
fi

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  step "making .venv with $PYTHON"
  "$PYTHON" -m venv .venv
fi
PIP=(.venv/bin/python -m pip install --disable-pip-version-check)
# torch pinned first: an unpinned torch would pull a multi-GB CUDA build.
step "torch==2.13.0 (CPU)"
"${PIP[@]}" torch==2.13.0 2>&1 | pip_progress || { echo "setup: pip could not install torch==2.13.0" >&2; exit 1; }
step "eqbridge and its packages: -e .$EXTRAS"
"${PIP[@]}" -e ".$EXTRAS" 2>&1 | pip_progress || { echo "setup: pip could not install -e .$EXTRAS" >&2; exit 1; }
CHECK="import dawdreamer, torch, matplotlib, host.cli, model"
[ "$MODE" = all ] && CHECK="$CHECK, pytest, hypothesis, ray, matchering"
.venv/bin/python -c "$CHECK" || { echo "setup: install failed ($CHECK)" >&2; exit 1; }
step "done ($MODE; .venv $(du -sh .venv | cut -f1))"
