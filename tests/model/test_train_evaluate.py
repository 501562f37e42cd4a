import json

import numpy as np
import pytest
import torch

from model.errors import CheckpointError, ConfigError, DatasetError, ProfileMismatchError
from model.profiles import N_BINS, load_profile
from model.architectures import build_network
from model.checkpoint import checkpoint_payload, load_checkpoint
from model.features import MelSpectrogram
from model.payload import read_payload, save_atomic
from model.evaluate import evaluate, predict_split
from model.train import feature_config_for, last_path, train
from tests.model.conftest import small_config


def test_checkpoint_carries_profile_and_settings(tiny_checkpoint, tiny_dataset) -> None:
    payload = read_payload(tiny_checkpoint)
    profile = load_profile("faust-peq")
    manifest = json.loads((tiny_dataset / "manifest.json").read_text())
    assert payload["profile_name"] == "faust-peq"
    assert payload["profile_sha256"] == manifest["profile_sha256"] == profile.sha256
    assert tuple(payload["parameter_names"]) == profile.parameter_names
    assert payload["sample_rate"] == 44100 and payload["segment_s"] == 0.5
    assert payload["features"]["hop_ms"] == 3.0 and payload["features"]["n_mels"] == 128
    assert payload["train_config"]["seed"] == 3
    assert "optimizer" not in payload and "optimizer" in read_payload(last_path(tiny_checkpoint))


def test_save_load_round_trip_gives_identical_logits(tmp_path) -> None:
    """A network built in memory, written the way training writes it, loads back with the same logits
    and the same metadata (the loaded one is a fresh network: only the file carries the weights)."""
    profile = load_profile("faust-peq")
    config = small_config()
    features = MelSpectrogram(feature_config_for(config.network.arch, 44100)).eval()
    torch.manual_seed(11)
    network = build_network(config.network).eval()
    generator = torch.Generator().manual_seed(5)
    x, r = torch.randn(2, 22050, generator=generator) * 0.1, torch.randn(2, 30000, generator=generator) * 0.1
    with torch.inference_mode():
        expected = network(features(x), features(r))
    path = tmp_path / "m.pt"
    save_atomic(checkpoint_payload(network, profile_name=profile.name, profile_sha256=profile.sha256,
                                   parameter_names=profile.parameter_names, sample_rate=44100, segment_s=0.5,
                                   network_config=config.network, feature_config=features.config,
                                   train_config=config), path)
    torch.manual_seed(12)  # the loader's fresh network starts from other weights than the saved one
    loaded = load_checkpoint(path, profile)
    assert torch.equal(loaded.logits(x, r), expected)
    assert (loaded.network_config, loaded.feature_config, loaded.train_config) == (config.network, features.config,
                                                                                  config)
    assert (loaded.profile_name, loaded.parameter_names) == (profile.name, profile.parameter_names)
    assert (loaded.sample_rate, loaded.segment_s) == (44100, 0.5) and not loaded.network.training


def test_loading_for_another_profile_raises(tiny_checkpoint) -> None:
    with pytest.raises(ProfileMismatchError, match="faust-peq.*zameq2"):
        load_checkpoint(tiny_checkpoint, load_profile("zameq2"))


def test_training_for_another_profile_raises(tiny_dataset, tmp_path) -> None:
    with pytest.raises(ProfileMismatchError, match="zameq2"):
        train(tiny_dataset, tmp_path / "x.pt", small_config(epochs=1), profile="zameq2")


def test_missing_dataset_and_checkpoint_raise(tmp_path) -> None:
    with pytest.raises(DatasetError, match="manifest.json"):
        train(tmp_path, tmp_path / "x.pt", small_config())
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "none.pt")


def test_seeded_training_is_deterministic(tiny_dataset, tiny_checkpoint, tmp_path) -> None:
    again = train(tiny_dataset, tmp_path / "again.pt", small_config())
    first, second = read_payload(last_path(tiny_checkpoint))["state_dict"], read_payload(last_path(again))["state_dict"]
    for key, value in first.items():
        assert torch.equal(value, second[key]), key


def test_resume_with_more_epochs_matches_a_straight_run(tiny_dataset, tiny_checkpoint, tmp_path) -> None:
    out = tmp_path / "resumed.pt"
    train(tiny_dataset, out, small_config(epochs=1))
    assert read_payload(last_path(out))["epoch"] == 1
    train(tiny_dataset, out, small_config(epochs=2))  # resumes at epoch 2
    resumed = read_payload(last_path(out))
    straight = read_payload(last_path(tiny_checkpoint))  # the fixture: 2 epochs in one run
    assert [h["epoch"] for h in resumed["history"]] == [1, 2]
    for key, value in straight["state_dict"].items():
        assert torch.equal(value, resumed["state_dict"][key]), key


def test_resume_with_another_config_is_refused(tiny_dataset, tmp_path) -> None:
    out = tmp_path / "r.pt"
    train(tiny_dataset, out, small_config(epochs=1))
    with pytest.raises(ConfigError, match="another config"):
        train(tiny_dataset, out, small_config(epochs=1, lr=0.01))
    train(tiny_dataset, out, small_config(epochs=1, lr=0.01), resume=False)  # --restart works


def test_a_schedule_change_for_epochs_not_yet_run_resumes_like_a_straight_run(tiny_dataset, tmp_path) -> None:
    scheduled = small_config(epochs=2, lr_milestones=(1,), lr_gamma=0.1)
    straight = train(tiny_dataset, tmp_path / "s.pt", scheduled)
    out = tmp_path / "r.pt"
    train(tiny_dataset, out, small_config(epochs=1))  # no schedule yet: epoch 1 runs at lr either way
    train(tiny_dataset, out, scheduled)
    resumed, reference = read_payload(last_path(out)), read_payload(last_path(straight))
    assert [h["lr"] for h in resumed["history"]] == pytest.approx([1e-3, 1e-4])
    for key, value in reference["state_dict"].items():
        assert torch.equal(value, resumed["state_dict"][key]), key
    with pytest.raises(ConfigError, match="epoch 2 ran at learning rate"):  # would rewrite history
        train(tiny_dataset, out, small_config(epochs=3, lr_milestones=(2,), lr_gamma=0.1))


def test_evaluate_writes_report_with_all_systems(tiny_dataset, tiny_checkpoint, tmp_path) -> None:
    baseline = train(tiny_dataset, tmp_path / "b.pt", small_config(epochs=1, arch="baseline-dbmel"))
    rows = evaluate(tiny_dataset, tiny_checkpoint, tmp_path / "rep", baselines=[baseline])
    names = [r.system for r in rows]
    assert len(rows) == 7 and "median" in names[1] and "same material" in names[2] and "median" in names[3]
    assert "baseline-dbmel" in names[4] and "median" in names[5] and "floor" in names[6]
    report = json.loads((tmp_path / "rep" / "report.json").read_text())
    assert len(report["systems"]) == 7 and len(report["systems"][0]["mae_unit"]) == 10
    md = (tmp_path / "rep" / "report.md").read_text()
    assert "| mean training setting (floor) |" in md and "low_gain_db (dB)" in md
    # The report's figures are the errors of the model's argmax predictions, recomputed here from the shards.
    profile = load_profile("faust-peq")
    [test_shard] = sorted((tiny_dataset / "test").glob("*.npz"))
    with np.load(test_shard) as shard:
        true = shard["params"]
        logits = load_checkpoint(tiny_checkpoint).logits(torch.from_numpy(shard["x"]), torch.from_numpy(shard["ref"]))
    train_true = np.concatenate([np.load(p)["params"] for p in sorted((tiny_dataset / "train").glob("*.npz"))])
    predicted = profile.from_bins(logits.argmax(dim=-1).numpy())
    model_mae = np.abs(profile.to_unit(predicted) - profile.to_unit(true)).mean(axis=0)
    np.testing.assert_allclose(rows[0].mae_unit, model_mae, rtol=1e-6)
    unit_mean = profile.to_unit(train_true).mean(axis=0)  # the floor: mean training setting, snapped to the grid
    floor = np.array([p.from_bin(u * (N_BINS - 1)) for p, u in zip(profile.parameters, unit_mean)])
    np.testing.assert_allclose(rows[-1].mae_unit, np.abs(profile.to_unit(floor) - profile.to_unit(true)).mean(axis=0),
                               rtol=1e-6)
    assert report["systems"][0]["mae_unit"] == pytest.approx(rows[0].mae_unit)


def test_predict_split_gives_physical_values_in_range(tiny_dataset, tiny_checkpoint) -> None:
    values = predict_split(tiny_dataset, tiny_checkpoint, "test")
    profile = load_profile("faust-peq")
    assert values.shape == (8, 10)
    lo = np.array([p.min for p in profile.parameters])
    hi = np.array([p.max for p in profile.parameters])
    assert np.all(values >= lo - 1e-9) and np.all(values <= hi + 1e-9)
    grid_hits = [np.isclose(values[:, i, None], p.grid()[None]).any(axis=1) for i, p in enumerate(profile.parameters)]
    assert np.all(grid_hits)
    assert np.array_equal(predict_split(tiny_dataset, tiny_checkpoint, "test", max_rows=3), values[:3])


def test_evaluate_a_test_only_dataset_uses_the_mid_range_floor(tiny_checkpoint, tmp_path) -> None:
    from tests.model.conftest import write_tiny_dataset

    data = write_tiny_dataset(tmp_path / "music", {"test": 8}, seed=9)
    rows = evaluate(data, tiny_checkpoint, tmp_path / "rep")
    assert rows[-1].system.startswith("mid-range")
    profile = load_profile("faust-peq")
    true = np.stack([np.load(p)["params"] for p in sorted((data / "test").glob("*.npz"))])[0]
    mid = np.array([p.from_bin(10) for p in profile.parameters])
    np.testing.assert_allclose(rows[-1].mae_physical, np.abs(true - mid).mean(axis=0))
