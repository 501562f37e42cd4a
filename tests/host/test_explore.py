"""`eqbridge explore` and `/eqbridge/explore`: variants near a match, rendered through the real plugin."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from pythonosc.osc_message import OscMessage
from pythonosc.osc_message_builder import build_msg

from host.errors import AudioInputError, CheckpointError, OptionError, ProfileError
from host.matching.explore import explore
from host.osc.addresses import DONE, ERROR, VARIANT
from host.osc.handlers import HandlerContext, ServeConfig, build_dispatcher, dispatch_datagram
from model.profiles import load_profile
from model.latent import decode_points, latent_model
from tests.conftest import require_host
from tests.host.osc_harness import CLIENT, Harness

SAMPLE_RATE = 44100


def _noise_clip(path: Path, seed: int, tilt: float) -> Path:
    rng = np.random.default_rng(seed)
    white = rng.standard_normal(int(2.5 * SAMPLE_RATE))
    spectrum = np.fft.rfft(white)
    freqs = np.fft.rfftfreq(len(white), 1 / SAMPLE_RATE)
    spectrum *= (np.maximum(freqs, 20.0) / 1000.0) ** tilt  # a tonal tilt the model can hear
    audio = np.fft.irfft(spectrum, len(white))
    sf.write(path, (0.1 * audio / np.std(audio)).astype(np.float32), SAMPLE_RATE, subtype="FLOAT")
    return path


@pytest.fixture
def clips(tmp_path: Path) -> tuple[Path, Path]:
    d = tmp_path / "bounces"
    d.mkdir()
    return _noise_clip(d / "track.wav", 1, -0.5), _noise_clip(d / "ref.wav", 2, 0.2)


def test_explore_writes_n_variants_decoded_from_points_within_the_radius(clips, tmp_path: Path) -> None:
    require_host("faust-peq")
    out = tmp_path / "variants"
    result = explore(*clips, out, plugin="faust-peq", n=4, radius=1.2)
    profile, model = latent_model("faust-peq")
    assert [p.name for p in result.variant_paths] == [f"variant-{k:02d}.wav" for k in range(4)]
    assert result.plot_path is not None and result.plot_path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    track, _ = sf.read(clips[0], dtype="float32")
    center_settings = json.loads((out / "match.json").read_text())["values"]
    distances = []
    for k, wav in enumerate(result.variant_paths):
        meta = json.loads(wav.with_suffix(".json").read_text())
        point, center = np.array(meta["latent"]), np.array(meta["latent_center"])
        assert np.linalg.norm(point - center) <= 1.2 + 1e-9
        assert meta["latent_distance"] == pytest.approx(np.linalg.norm(point - center))
        decoded = profile.clip(decode_points(model, profile, point[None])[0])
        assert np.allclose(profile.values_from_dict(meta["values"]), decoded, rtol=1e-6)
        audio, rate = sf.read(wav, dtype="float32")
        assert rate == SAMPLE_RATE and audio.shape == track.shape
        distances.append(np.linalg.norm(profile.to_unit(profile.values_from_dict(meta["values"]))
                                        - profile.to_unit(profile.values_from_dict(center_settings))))
    assert np.all(np.diff(result.radii) > 0)  # variants are ordered from near to far ...
    assert distances[0] < distances[-1]        # ... and the nearest sounds nearer the match than the farthest


def test_explore_of_a_compressor_plots_settings_instead_of_curves(clips, tmp_path: Path) -> None:
    require_host("zamcomp")  # presets/controllers/zamcomp.pt ships: found from the package, in any folder
    result = explore(*clips, tmp_path / "comp", plugin="zamcomp", n=2, radius=0.5)
    assert len(result.variant_paths) == 2 and result.plot_path is not None and result.plot_path.exists()
    assert set(result.settings[0]) == set(load_profile("zamcomp").parameter_names)


def test_explore_rejects_bad_arguments_and_profiles_without_a_controller(clips, tmp_path: Path,
                                                                         modelless_profile: Path) -> None:
    with pytest.raises(OptionError, match="radius"):
        explore(*clips, tmp_path / "x", n=3, radius=-1.0)
    with pytest.raises(CheckpointError, match="no controller to explore.*--latent-dim"):
        explore(*clips, tmp_path / "x", plugin=str(modelless_profile), n=3, radius=1.0)


def _variant_messages(h: Harness) -> list[OscMessage]:
    return [m for m in h.messages() if m.address == VARIANT]


def test_osc_explore_answers_one_variant_per_setting_then_done(clips) -> None:
    h = Harness(clips[0].parent)
    h.send("/eqbridge/explore", 7, str(clips[0]), str(clips[1]), 3, 1.0)
    assert h.errors() == [] and [rid for rid, _ in h.jobs] == [7]
    h.jobs[0][1]()  # the worker, synchronously
    variants = _variant_messages(h)
    assert [m.params[:2] for m in variants] == [[7, 0], [7, 1], [7, 2]]
    names = load_profile("faust-peq").parameter_names
    for m in variants:
        assert 0 < m.params[2] <= 1.0 + 1e-6                      # latent distance within the radius
        assert tuple(m.params[3::2]) == names                     # name, value pairs in profile order
        assert all(isinstance(v, float) for v in m.params[4::2])
    assert h.messages()[-1].address == DONE and h.messages()[-1].params == [7]


def test_osc_explore_rejects_bad_requests(clips, tmp_path: Path) -> None:
    h = Harness(clips[0].parent)
    h.send("/eqbridge/explore", 8, str(clips[0]), str(clips[1]), 0, 1.0)
    h.send("/eqbridge/explore", 9, str(clips[0]), str(clips[1]), 3, -2.0)
    h.send("/eqbridge/explore", 10, str(clips[0]), str(clips[1]), 3)
    h.send("/eqbridge/explore", 11, "/etc/passwd", str(clips[1]), 3, 1.0)
    errors = h.errors()
    assert [rid for rid, _ in errors] == [8, 9, 10, 11] and h.jobs == []
    assert "n must lie in 1..64" in errors[0][1] and "radius" in errors[1][1]
    assert ",issif" in errors[2][1] and "outside the allowed" in errors[3][1]


def test_osc_explore_for_a_profile_without_a_controller_is_an_error_reply(clips, modelless_profile: Path) -> None:
    profile = load_profile(modelless_profile)
    sent: list = []
    jobs: list = []
    config = ServeConfig(profile=profile, allowed_dirs=(clips[0].parent.resolve(),),
                         plugin_indices=tuple(range(profile.n_params)))
    ctx = HandlerContext(config=config, clips=None, send=lambda client, packet: sent.append(packet),
                         submit=lambda client, rid, work: jobs.append(work))
    request = build_msg("/eqbridge/explore", [5, str(clips[0]), str(clips[1]), 2, 1.0])
    dispatch_datagram(build_dispatcher(ctx), ctx, request.dgram, CLIENT)
    jobs[0]()
    assert [m.address for m in sent] == [ERROR]
    assert sent[0].params[0] == 5 and "no controller to explore" in sent[0].params[1]


def test_match_takes_a_profile_with_a_controller_and_names_the_fix_for_one_without(clips, tmp_path: Path,
                                                                                   modelless_profile: Path) -> None:
    from host.matching.match import match

    with pytest.raises(CheckpointError, match=r"'no-model-eq' has no model.*--encoder presets/encoder.pt"):
        # the classifier needs a model per profile; the curve model (auto's choice for an EQ) serves any EQ profile
        match(*clips, tmp_path / "out.wav", plugin=str(modelless_profile), model="classifier")
    require_host("zamcomp")
    result = match(*clips, tmp_path / "comp.wav", plugin="zamcomp")
    assert result.settings.checkpoint.endswith("presets/controllers/zamcomp.pt")
    assert set(result.settings.values) == set(load_profile("zamcomp").parameter_names)
    assert sf.info(tmp_path / "comp.wav").frames == sf.info(clips[0]).frames


def test_eq_only_paths_refuse_a_dynamics_profile_clearly(tmp_path):
    from host.matching.apply import ApplyConfig, apply_stems

    from host.matching.match import match
    from host.matching.refine import refine
    from host.plugins.render import PluginHost

    examples = Path(__file__).resolve().parents[2] / "examples" / "audio"
    with pytest.raises(OptionError, match="EQ curve"):
        match(examples / "track.flac", examples / "reference.flac", tmp_path / "o.wav", plugin="zamcomp",
              plot=tmp_path / "c.png")
    host = PluginHost("zamcomp", 44100)
    noise = np.random.default_rng(0).standard_normal(20000).astype(np.float32)
    with pytest.raises(ProfileError, match="dynamics"):
        refine(host, noise, noise, 0.1)
    (tmp_path / "stems").mkdir()
    (tmp_path / "stems" / "t.flac").write_bytes((examples / "track.flac").read_bytes())
    with pytest.raises(OptionError, match="dynamics"):
        apply_stems(examples / "reference.flac", tmp_path / "stems", tmp_path / "out", ApplyConfig(plugin="zamcomp"))
    assert not (tmp_path / "out").exists()
