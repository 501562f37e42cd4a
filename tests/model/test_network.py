import pytest
import torch

from model.profiles import N_BINS
from model.architectures import ARCHITECTURES, build_network
from model.config import ARCHITECTURE_NAMES, NetworkConfig
from model.errors import ConfigError

SMALL = dict(conv_channels=16, embed_dim=32, hidden=64, dropout=0.0)


@pytest.mark.parametrize("arch", sorted(ARCHITECTURES))
def test_logits_shape_with_different_clip_lengths(arch: str) -> None:
    net = build_network(NetworkConfig(arch=arch, **SMALL)).eval()
    out = net(torch.randn(3, 128, 400) * 20, torch.randn(3, 128, 700) * 20)
    assert out.shape == (3, 10, N_BINS)


def test_unknown_arch_is_named_in_the_error() -> None:
    with pytest.raises(ConfigError, match="'resnet'"):
        build_network(NetworkConfig(arch="resnet"))


@pytest.mark.parametrize("arch", sorted(ARCHITECTURES))
def test_overfits_a_tiny_batch(arch: str) -> None:
    torch.manual_seed(0)
    net = build_network(NetworkConfig(arch=arch, **SMALL))
    track = torch.randn(8, 128, 40) * 10 - 40
    ref = torch.randn(8, 128, 40) * 10 - 40
    if arch == "baseline-linmel":
        track, ref = 10 ** (track / 10), 10 ** (ref / 10)
    bins = torch.randint(0, N_BINS, (8, 10))
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    for _ in range(150):
        loss = torch.nn.functional.cross_entropy(net(track, ref).reshape(-1, N_BINS), bins.reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
    net.eval()
    accuracy = (net(track, ref).argmax(-1) == bins).float().mean()
    assert accuracy == 1.0, float(accuracy)


def test_same_seed_same_weights() -> None:
    torch.manual_seed(5)
    a = build_network(NetworkConfig())
    torch.manual_seed(5)
    b = build_network(NetworkConfig())
    for (name, pa), pb in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(pa, pb), name


def test_model_is_small() -> None:
    n_params = sum(p.numel() for p in build_network(NetworkConfig()).parameters())
    assert n_params * 4 < 2_000_000  # float32 bytes: a checkpoint of a few hundred kB


def test_the_registry_builds_every_architecture_the_config_accepts() -> None:
    assert tuple(ARCHITECTURES) == ARCHITECTURE_NAMES
