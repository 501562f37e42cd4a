"""Shared fixtures: real plugin hosts, skipped with a reason where a plugin is not installed.

Set EQBRIDGE_REQUIRE_PLUGINS=1 (CI does) to turn a missing plugin into a failure instead of a skip.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from host.errors import PluginNotFoundError
from model.profiles import PROFILES_DIR, available_profiles, load_profile

PROFILES = available_profiles()


def require_host(name: str, sample_rate: int = 44100):
    """A PluginHost for a profile, or a skip naming the Debian package to install."""
    from host.plugins.render import PluginHost

    try:
        return PluginHost(load_profile(name), sample_rate)
    except PluginNotFoundError as exc:
        if os.environ.get("EQBRIDGE_REQUIRE_PLUGINS") == "1":
            raise
        pytest.skip(str(exc))


@pytest.fixture(params=PROFILES)
def profile_name(request) -> str:
    return request.param


@pytest.fixture
def modelless_profile(tmp_path: Path) -> Path:
    """A copy of the zameq2 profile under a name that has no checkpoint and no controller."""
    raw = json.loads((PROFILES_DIR / "zameq2.json").read_text())
    path = tmp_path / "no-model-eq.json"
    path.write_text(json.dumps({**raw, "name": "no-model-eq"}))
    return path


@pytest.fixture
def read_only_dir(tmp_path: Path):
    """A folder nothing can be written in, root included: immutable (chattr +i) when the filesystem allows
    it, else (not root) without write bits; skipped where neither holds."""
    folder = tmp_path / "read-only"
    folder.mkdir()
    immutable = shutil.which("chattr") and subprocess.run(["chattr", "+i", str(folder)],
                                                          capture_output=True).returncode == 0
    if not immutable:
        if os.geteuid() == 0:
            pytest.skip("root, and chattr +i is not available here: no folder is read-only to root")
        folder.chmod(0o555)
    try:
        yield folder
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", str(folder)], check=True)
        folder.chmod(0o755)
