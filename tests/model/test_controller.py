"""The encoder/controller split: a frozen encoder file, controllers trained on it, and how predict finds them."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
import torch

from model.errors import CheckpointError, ConfigError, ProfileMismatchError
from model.profiles import load_profile
from model.checkpoint import load_checkpoint
from model.payload import read_payload
from model.controller import Controller
from model.controller_train import ControllerTrainConfig, embed_split, fit_controller, train_controller
from model.features import MelSpectrogram
from model.encoder_store import export_encoder, load_encoder, state_sha256
from model.latent import decode_points, latent_model, sample_points

TINY = ControllerTrainConfig(epochs=2, batch_size=8, latent_dim=2, hidden=32, seed=1)


def _file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def tiny_encoder(tiny_checkpoint: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return export_encoder(tiny_checkpoint, tmp_path_factory.mktemp("enc") / "encoder.pt")


@pytest.fixture(scope="module")
def tiny_controller(tiny_dataset: Path, tiny_encoder: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return train_controller(tiny_dataset, tmp_path_factory.mktemp("ctl") / "faust-peq.pt", TINY, tiny_encoder)


def test_export_keeps_the_encoder_weights_exactly(tiny_checkpoint: Path, tiny_encoder: Path) -> None:
    full = read_payload(tiny_checkpoint)["state_dict"]
    encoder = load_encoder(tiny_encoder)
    for name, value in encoder.encoder.state_dict().items():
        assert torch.equal(value, full[f"encoder.{name}"]), name
    assert not any(p.requires_grad for p in encoder.encoder.parameters()) and not encoder.encoder.training


def test_training_a_controller_leaves_the_encoder_bit_identical(tiny_dataset: Path, tiny_encoder: Path,
                                                                 tmp_path: Path) -> None:
    before_file, before = _file_sha256(tiny_encoder), load_encoder(tiny_encoder).encoder.state_dict()
    out = train_controller(tiny_dataset, tmp_path / "c.pt", TINY.replace(latent_dim=0), tiny_encoder)
    assert _file_sha256(tiny_encoder) == before_file
    model = load_checkpoint(out)
    for name, value in model.network.encoder.state_dict().items():
        assert torch.equal(value, before[name]), name  # the loaded controller runs the same encoder, bit for bit
    payload = read_payload(out)
    assert all(k.startswith("controller.") for k in payload["state_dict"])  # only the controller is stored
    assert payload["encoder"]["sha256"] == state_sha256({k: v for k, v in before.items()})


def test_controller_checkpoint_round_trip(tiny_dataset: Path, tiny_encoder: Path, tiny_controller: Path) -> None:
    """The file holds the controller training ended with: the same fit, run again in memory on the same
    frozen embeddings, and put behind the encoder, gives the loaded checkpoint's logits bit for bit."""
    loaded = load_checkpoint(tiny_controller)
    assert loaded.network_config.arch == "controller" and loaded.network_config.latent_dim == 2
    assert loaded.parameter_names == load_profile("faust-peq").parameter_names
    encoder = load_encoder(tiny_encoder)
    torch.set_num_threads(TINY.threads)
    train_rows, val_rows = embed_split(tiny_dataset, "train", encoder), embed_split(tiny_dataset, "val", encoder)
    torch.manual_seed(TINY.seed)
    controller = Controller(loaded.network_config)
    state, _ = fit_controller(train_rows, val_rows, controller, TINY)
    controller.load_state_dict(state)
    controller.eval()
    generator = torch.Generator().manual_seed(4)
    x, r = torch.randn(2, 22050, generator=generator) * 0.1, torch.randn(2, 30000, generator=generator) * 0.1
    front_end = MelSpectrogram(encoder.feature_config).eval()
    with torch.inference_mode():
        expected = controller(encoder.encoder(front_end(x)), encoder.encoder(front_end(r)))
    assert expected.shape == (2, 10, 21)
    assert torch.equal(loaded.logits(x, r), expected)
    with pytest.raises(ProfileMismatchError, match="faust-peq.*zameq2"):
        load_checkpoint(tiny_controller, load_profile("zameq2"))


def test_a_changed_encoder_file_is_a_clear_error(tiny_controller: Path, tiny_checkpoint: Path,
                                                 tmp_path: Path) -> None:
    payload = read_payload(tiny_controller)
    payload["encoder"] = {**payload["encoder"], "sha256": "0" * 64}
    torch.save(payload, tmp_path / "stale.pt")
    with pytest.raises(CheckpointError, match="retrain the controller"):
        load_checkpoint(tmp_path / "stale.pt")


def test_bad_latent_sizes_are_rejected() -> None:
    for bad in (1, 9, -1):
        with pytest.raises(ConfigError, match="latent_dim"):
            ControllerTrainConfig(latent_dim=bad)


def test_predict_finds_a_controller_when_no_full_checkpoint_exists(tiny_controller: Path, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    import model.controller_train as controller_train
    import model.inference as inference
    from model import predict

    empty, controllers = tmp_path / "checkpoints", tmp_path / "controllers"
    empty.mkdir()
    controllers.mkdir()
    (controllers / "faust-peq.pt").write_bytes(tiny_controller.read_bytes())
    monkeypatch.setattr(inference, "CHECKPOINTS_DIR", empty)
    monkeypatch.setattr(controller_train, "CONTROLLERS_DIR", controllers)
    rng = np.random.default_rng(0)
    prediction = predict(0.1 * rng.standard_normal(30000), 0.1 * rng.standard_normal(30000), 44100, "faust-peq")
    assert Path(prediction.checkpoint) == controllers / "faust-peq.pt"
    assert set(prediction.values) == set(load_profile("faust-peq").parameter_names)


def test_a_profile_without_any_model_is_a_clear_error(modelless_profile: Path) -> None:
    from model import predict

    rng = np.random.default_rng(0)
    profile = load_profile(modelless_profile)
    with pytest.raises(CheckpointError, match=r"'no-model-eq' has no model.*eqbridge train --plugin no-model-eq.*--encoder"):
        predict(0.1 * rng.standard_normal(90000), 0.1 * rng.standard_normal(90000), 44100, profile)


def test_explore_needs_a_bottleneck(tiny_dataset: Path, tiny_encoder: Path, tmp_path: Path,
                                    modelless_profile: Path) -> None:
    plain = train_controller(tiny_dataset, tmp_path / "plain.pt", TINY.replace(latent_dim=0, epochs=1), tiny_encoder)
    with pytest.raises(CheckpointError, match="no latent bottleneck"):
        latent_model("faust-peq", plain)
    with pytest.raises(CheckpointError, match="no controller to explore"):
        latent_model(load_profile(modelless_profile))


def test_sampled_points_lie_within_the_radius_from_near_to_far() -> None:
    center = np.array([0.3, -1.0, 0.5])
    points = sample_points(center, 8, 1.5, seed=4)
    radii = np.linalg.norm(points - center, axis=1)
    assert np.all(radii <= 1.5 + 1e-12) and np.all(np.diff(radii) > 0) and radii[-1] == pytest.approx(1.5)
    with pytest.raises(ValueError, match="radius"):
        sample_points(center, 3, 0.0)


def test_nearer_latent_points_decode_to_nearer_settings(tiny_controller: Path) -> None:
    profile, model = latent_model("faust-peq", tiny_controller)
    rng = np.random.default_rng(2)
    center = rng.standard_normal(2) * 0.5
    for _ in range(5):
        direction = rng.standard_normal(2)
        direction /= np.linalg.norm(direction)
        radii = np.array([0.1, 0.3, 0.9, 2.7])
        values = decode_points(model, profile, np.vstack([center, center + radii[:, None] * direction]))
        units = profile.to_unit(values)  # (5, P)
        distances = np.linalg.norm(units[1:] - units[0], axis=1)
        assert np.all(np.diff(distances) > 0), distances
