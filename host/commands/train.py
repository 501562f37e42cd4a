"""`eqbridge train`: train a model (or a baseline, or a controller on the frozen encoder) on a rendered dataset."""

from __future__ import annotations

import argparse
from pathlib import Path

from host.errors import OptionError
from host.paths import check_outputs, dataset_inputs

# Options of each mode; giving one to the other mode is refused, not ignored.
NETWORK_ONLY = ("config", "arch", "loss", "restart")
CONTROLLER_ONLY = ("latent_dim", "kl_weight")


def _refuse(args: argparse.Namespace, names: tuple[str, ...], mode: str) -> None:
    given = [f"--{n.replace('_', '-')}" for n in names if getattr(args, n) not in (None, False)]
    if given:
        raise OptionError(f"{', '.join(given)} do(es) not apply {mode}")


def _inputs(args: argparse.Namespace) -> dict[str, Path | None]:
    return {**dataset_inputs("--data", args.data), "--config": args.config, "--encoder": args.encoder}


def _run_controller(args: argparse.Namespace) -> int:
    from model import ControllerTrainConfig, train_controller

    _refuse(args, NETWORK_ONLY, "with --encoder (a controller on the frozen encoder)")
    check_outputs(_inputs(args), {"--out": args.out})
    changes = {k: v for k, v in (("epochs", args.epochs), ("seed", args.seed), ("latent_dim", args.latent_dim),
                                 ("kl_weight", args.kl_weight)) if v is not None}
    out = train_controller(args.data, args.out, ControllerTrainConfig().replace(**changes),
                           encoder_path=args.encoder, profile=args.plugin, force=args.force)
    print(f"controller written to {out}")
    return 0


def _run(args: argparse.Namespace) -> int:
    if args.encoder is not None:
        return _run_controller(args)
    from model import train_network
    from model.config import TrainConfig

    _refuse(args, CONTROLLER_ONLY, "without --encoder (they shape a controller's bottleneck)")
    if args.out is None:
        raise OptionError("--out is required when training a whole network (without --encoder)")
    from model import train_resume_path

    check_outputs(_inputs(args), {"--out": args.out, "--out's resume file": train_resume_path(Path(args.out))})
    config = TrainConfig.from_toml(args.config) if args.config else TrainConfig()
    changes = {k: v for k, v in (("epochs", args.epochs), ("seed", args.seed), ("loss", args.loss),
                                 ("arch", args.arch)) if v is not None}
    config = config.replace(**changes)
    train_network(args.data, args.out, config, profile=args.plugin, resume=not args.restart, force=args.force)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("train", help="train an EQ-matching model on a dataset (render-dataset output)")
    parser.add_argument("--data", type=Path, required=True, help="dataset folder (with manifest.json)")
    parser.add_argument("--out", type=Path, help="checkpoint to write, e.g. out/faust-peq.pt "
                                                 "(with --encoder, default presets/controllers/<profile>.pt)")
    parser.add_argument("--force", action="store_true", help="replace a shipped checkpoint or controller in presets/")
    parser.add_argument("--config", type=Path, help="TOML file of TrainConfig fields and a [network] table "
                                                    "(default: the shipped recipe, presets/checkpoints/faust-peq.toml)")
    # Checked by TrainConfig (model.config.ARCHITECTURE_NAMES); not imported here so the CLI starts without torch.
    parser.add_argument("--arch", help="network: mimilakis, baseline-dbmel or baseline-linmel (default: the config's)")
    parser.add_argument("--epochs", type=int, help="override the config's epochs")
    parser.add_argument("--seed", type=int, help="override the config's seed")
    parser.add_argument("--loss", choices=("ce", "ce-smooth", "ce-ev"), help="override the config's loss")
    parser.add_argument("--plugin", help="profile the dataset must have been rendered for (checked)")
    parser.add_argument("--restart", action="store_true", help="ignore OUT's .last.pt and start afresh")
    parser.add_argument("--encoder", type=Path, help="train only a controller on this frozen shared encoder "
                                                     "(presets/encoder.pt); --config, --arch, --loss do not apply")
    parser.add_argument("--latent-dim", type=int, help="with --encoder: latent bottleneck size, 2..8, for "
                                                       "`eqbridge explore` (default 0: none)")
    parser.add_argument("--kl-weight", type=float, help="with --encoder: weight of the bottleneck's KL term")
    parser.set_defaults(func=_run)
