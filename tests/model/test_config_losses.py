import pytest
import torch

from model.errors import ConfigError
from model.config import TrainConfig
from model.losses import expected_bin, gaussian_targets, make_loss


def test_toml_round_trip(tmp_path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('seed = 7\nepochs = 3\nloss = "ce-smooth"\n[network]\narch = "baseline-dbmel"\nhidden = 64\n')
    cfg = TrainConfig.from_toml(path)
    assert (cfg.seed, cfg.epochs, cfg.loss, cfg.network.arch, cfg.network.hidden) == (7, 3, "ce-smooth", "baseline-dbmel", 64)
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg


def test_learning_rate_steps_down_at_each_milestone(tmp_path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("lr = 0.01\nlr_milestones = [20, 10]\nlr_gamma = 0.5\n")
    cfg = TrainConfig.from_toml(path)
    assert [cfg.lr_at(e) for e in (0, 9, 10, 19, 20, 99)] == pytest.approx([0.01, 0.01, 0.005, 0.005, 0.0025, 0.0025])
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg


@pytest.mark.parametrize("text, match", [("epoch = 3\n", "epoch"), ('loss = "mse"\n', "mse"),
                                         ('[network]\narch = "x"\n', "'x'"), ("seed = \n", "cannot read"),
                                         ("[network]\nwidth = 3\n", "width"),
                                         ("lr_milestones = [0]\n", "lr_milestones"), ("lr_gamma = 2.0\n", "lr_gamma")])
def test_bad_toml_raises_config_error_naming_the_key(tmp_path, text: str, match: str) -> None:
    path = tmp_path / "c.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=match):
        TrainConfig.from_toml(path)


def test_gaussian_targets_peak_at_the_true_bin_and_sum_to_one() -> None:
    bins = torch.tensor([[0, 10, 20]])
    t = gaussian_targets(bins, 21, 1.0)
    assert torch.allclose(t.sum(-1), torch.ones(1, 3))
    assert t.argmax(-1).tolist() == [[0, 10, 20]]


@pytest.mark.parametrize("loss", ["ce-smooth", "ce-ev"])
def test_ordinal_losses_punish_far_misses_more(loss: str) -> None:
    fn = make_loss(TrainConfig(loss=loss, ev_weight=1.0))
    target = torch.tensor([[10]])
    near = torch.full((1, 1, 21), -10.0)
    near[0, 0, 11] = 10.0
    far = torch.full((1, 1, 21), -10.0)
    far[0, 0, 20] = 10.0
    assert fn(near, target) < fn(far, target)
    plain = make_loss(TrainConfig(loss="ce"))
    assert plain(near, target) == pytest.approx(float(plain(far, target)), rel=1e-5)  # plain CE is not ordinal


def test_expected_bin_of_a_one_hot_is_that_bin() -> None:
    logits = torch.full((1, 2, 21), -1e4)
    logits[0, 0, 3] = 0.0
    logits[0, 1, 17] = 0.0
    assert expected_bin(logits).tolist() == [[3.0, 17.0]]


def test_median_decoding_picks_the_middle_of_a_bimodal_distribution() -> None:
    from model.decode import decode_bins

    probs = torch.zeros(1, 21)
    probs[0, 2], probs[0, 9], probs[0, 18] = 0.4, 0.2, 0.4
    logits = probs.clamp_min(1e-9).log()
    assert decode_bins(logits, "argmax").item() in (2, 18)
    assert decode_bins(logits, "median").item() == 9
