"""The thin commands in host/commands, run through the CLI's main(): `eqbridge plugins` and `eqbridge explore`.

(`eqbridge corpus build` is tested with the corpus in test_corpus.py, `eqbridge bench` in test_bench.py.)
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from host.cli import main
from host.errors import PluginNotFoundError
from host.plugins.render import PluginHost, plugin_status
from model.profiles import PROFILES_DIR, load_profile
from tests.conftest import require_host

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "audio"


def test_plugins_lists_every_shipped_profile_and_whether_it_loads(capsys) -> None:
    assert main(["plugins"]) == 0
    out = capsys.readouterr().out
    listed = dict(re.findall(r"^(\S+)\s+(ok|MISSING)\s", out, flags=re.MULTILINE))
    shipped = sorted(p.stem for p in PROFILES_DIR.glob("*.json"))
    assert sorted(listed) == shipped
    for name in shipped:
        try:
            host = PluginHost(load_profile(name), 44100)
        except PluginNotFoundError:
            assert listed[name] == "MISSING", name
        else:
            assert listed[name] == "ok", name
            assert host.identity.plugin_file in out  # where it loaded from
            assert load_profile(name).display_name in out


def test_plugin_status_names_the_package_for_a_plugin_that_is_not_installed(tmp_path: Path) -> None:
    raw = json.loads((PROFILES_DIR / "zameq2.json").read_text())
    raw["plugin_paths"] = [str(tmp_path / "nowhere" / "ZamEQ2-vst.so")]
    (tmp_path / "zam-missing.json").write_text(json.dumps(raw))
    ok, detail = plugin_status(load_profile(tmp_path / "zam-missing.json"))
    assert not ok and "apt-get install zam-plugins" in detail


def test_explore_command_writes_the_variants_the_match_and_the_picture(tmp_path: Path, capsys) -> None:
    host = require_host("faust-peq")
    out = tmp_path / "explore"
    assert main(["explore", str(EXAMPLES / "track.flac"), str(EXAMPLES / "reference.flac"), "--out", str(out),
                 "--n", "3", "--radius", "0.6", "--seed", "2"]) == 0
    printed = capsys.readouterr().out
    names = {f"{stem}.{ext}" for stem in ("match", "variant-00", "variant-01", "variant-02") for ext in ("wav", "json")}
    assert {p.name for p in out.iterdir()} == names | {"explore.png"}
    assert (out / "explore.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    distances = [float(d) for d in re.findall(r"variant-0\d\.wav\s+latent distance ([0-9.]+)", printed)]
    assert distances == pytest.approx([json.loads((out / f"variant-{k:02d}.json").read_text())["latent_distance"]
                                       for k in range(3)], abs=5e-4)
    assert distances == sorted(distances) and 0 < distances[-1] <= 0.6 + 1e-6
    # match.wav is the track through the plugin at the settings match.json records
    track, rate = sf.read(EXAMPLES / "track.flac", dtype="float32")
    match, match_rate = sf.read(out / "match.wav", dtype="float32")
    settings = json.loads((out / "match.json").read_text())["values"]
    expected = host.render(track, host.profile.values_from_dict(settings))
    unclipped = np.abs(expected) < 0.99
    assert match_rate == rate and match.shape == track.shape and unclipped.mean() > 0.99
    assert np.max(np.abs(match[unclipped] - expected[unclipped])) < 2.0 / 32768  # 16-bit WAV
    assert np.max(np.abs(match - track)) > 0.01  # and it is not the track itself


def test_explore_command_without_a_picture_and_with_a_bad_radius(tmp_path: Path, capsys) -> None:
    require_host("faust-peq")
    track, ref = str(EXAMPLES / "track.flac"), str(EXAMPLES / "reference.flac")
    assert main(["explore", track, ref, "--out", str(tmp_path / "a"), "--n", "1", "--no-plot"]) == 0
    assert not (tmp_path / "a" / "explore.png").exists() and (tmp_path / "a" / "variant-00.wav").exists()
    capsys.readouterr()
    assert main(["explore", track, ref, "--out", str(tmp_path / "b"), "--radius", "-1"]) == 1
    assert "radius" in capsys.readouterr().err and not (tmp_path / "b").exists()
