"""The training loop: epochs, validation, checkpoints and exact resume, torchrun."""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import time
import warnings

import torch

from ..evaluate import evaluate
from ..mixture import Mixture
from .algorithms import (adversarial_batch, adversarial_dataset, barre_batch, bat_weights, member_step,
                         natural_step, sub_mixture, train_attack, weight_attack, weight_step)
from .checkpoint import load_checkpoint, restore_trainer, save_checkpoint, trainer_state
from .config import TrainConfig, save_config
from .integrity import check_finite_training, check_splits, diverged_as_error, finite_json
from .precision import autocast, setup_members
from .report import write_figure, write_logs
from .selection import lp_weights

__all__ = ["Trainer"]


def _dist():
    """(world size, rank) of the current torch.distributed group, (1, 0) without one."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_world_size(), dist.get_rank()
    return 1, 0


def _tensors(dataset, limit=None):
    """A dataset as two tensors (inputs, labels), the first ``limit`` examples."""
    if callable(getattr(dataset, "tensors", None)):  # advgame.torch.data.ImageDataset
        x, y = dataset.tensors()
        return (x, y) if limit is None else (x[:limit], y[:limit])
    n = len(dataset) if limit is None else min(limit, len(dataset))
    xs, ys = zip(*(dataset[i] for i in range(n)))
    return torch.stack(xs), torch.as_tensor(ys, dtype=torch.int64)


def _extended_state(state, cfg):
    """A checkpoint's state with its config replaced by ``cfg``, when ``cfg`` only adds
    epochs per member to it (ValueError otherwise)."""
    saved = TrainConfig.from_dict(state["config"])
    if cfg.algo == "bat":
        raise ValueError("a BAT run cannot be extended: its phases (one member per --epochs epochs) are fixed; "
                         "train a new run with more --epochs")
    if cfg.epochs <= saved.epochs:
        raise ValueError(f"extending needs more epochs per member than the run's {saved.epochs}; got {cfg.epochs}")
    diff = {k: (v, cfg.to_dict()[k]) for k, v in saved.to_dict().items() if k != "epochs" and cfg.to_dict()[k] != v}
    if diff:
        raise ValueError(f"an extended run keeps its settings; these differ (saved, now): {diff}")
    return {**state, "config": cfg.to_dict()}


def _show_loss(bar, losses):
    """The running mean of the epoch's training losses in a tqdm bar (nothing without one)."""
    if losses and hasattr(bar, "set_postfix_str"):
        bar.set_postfix_str(f"loss {float(sum(losses)) / len(losses):.4f}")  # shown at once: batches can be fast


class Trainer:
    r"""Trains a mixture with MNE21 Alg. 2, RM20 BAT, or AT / TRADES (L = 1).

    Parameters
    ----------
    config : TrainConfig
    data : DatasetSplits
        From :func:`advgame.torch.data.load_dataset` (``train``, ``val``, ``test``,
        ``num_classes``, ``input_shape``).
    out : str or path, optional
        Folder of the checkpoint (``checkpoint.pt``, written after every epoch) and
        the logs; None writes nothing.
    device : str or torch.device
    progress : bool
        A tqdm progress bar per epoch (rank 0 only).

    Notes
    -----
    Under ``torchrun`` (an initialized ``torch.distributed`` group) each member is
    wrapped in ``DistributedDataParallel``, a ``DistributedSampler`` gives every rank
    ``batch_size / world`` examples per step, all ranks draw the same member (same
    seed) and take the same weight steps (the oracle's losses are all-reduced, the
    game solvers get ``distributed=True``), and only rank 0 writes.

    Everything random is seeded from ``config.seed``: the members' initialization,
    the data order (``DistributedSampler(seed=config.seed)``, reshuffled per epoch),
    the member drawn at each step, the attacks' random starts; the checkpoint holds
    the generators' states, so a resumed run is bit-identical on CPU.
    """

    def __init__(self, config, data, *, out=None, device="cpu", progress=False):
        from ..models import build_model
        from ..solver import MixtureSolver

        if not isinstance(config, TrainConfig):
            raise TypeError(f"config must be a TrainConfig; got {type(config).__name__}")
        self.cfg = cfg = config
        self.data = data
        self.out = None if out is None else os.fspath(out)
        self.device = torch.device(device)
        self.progress = progress
        self.world, self.rank = _dist()
        if cfg.batch_size % self.world:
            raise ValueError(f"batch_size ({cfg.batch_size}) must be divisible by the number of processes "
                             f"({self.world})")
        if self.world > 1 and cfg.weight_method == "lp":
            raise ValueError("weight_method='lp' runs on one process; use 'oracle' or 'entropic' with torchrun")
        check_splits(data, self.world)
        torch.manual_seed(cfg.seed)
        members = [build_model(cfg.arch, data.num_classes, tuple(data.input_shape), seed=cfg.seed * 1009 + k,
                               width=cfg.width).to(self.device) for k in range(cfg.models)]
        for m in members:
            m.eval()
        self.precision, self.scaler = setup_members(cfg, members, self.device)  # autocast, channels_last, compile
        L = cfg.models
        init = torch.eye(L)[0] if self.sequential else torch.full((L,), 1.0 / L)
        # the vmap/loop choice of "auto" is timed: under autocast the two round differently, so a reduced
        # precision (and compile) loops over the members, which keeps resume exact
        vectorize = "auto" if self.precision == "fp32" and not cfg.compile else False
        self.mixture = Mixture(members, init.to(self.device), vectorize=vectorize)
        self.optimizers = [torch.optim.SGD(m.parameters(), lr=cfg.lr, momentum=cfg.momentum,
                                           weight_decay=cfg.weight_decay) for m in members]
        span = cfg.epochs if self.sequential else cfg.total_epochs
        marks = sorted({max(1, math.ceil(f * span)) for f in cfg.milestones})
        self.schedulers = [torch.optim.lr_scheduler.MultiStepLR(o, marks, gamma=cfg.gamma) for o in self.optimizers]
        # T_lambda iterations of oracle / entropic; the LP solves the batch's game exactly
        opts = {} if cfg.weight_method == "lp" else {"max_iter": cfg.t_lambda}
        if cfg.weight_method == "entropic":
            opts["temperature"] = cfg.temperature
        if self.world > 1 and cfg.weight_method != "oracle":
            opts["distributed"] = True
        self.solver = MixtureSolver(cfg.weight_method, mixture=self.mixture, **opts)
        if self.world > 1:
            from torch.nn.parallel import DistributedDataParallel as DDP

            ids = [self.device.index] if self.device.type == "cuda" else None
            self.trained = [DDP(m, device_ids=ids) for m in members]
        else:
            self.trained = list(members)
        self.generators = {
            "member": torch.Generator().manual_seed(cfg.seed),  # same on every rank
            "attack": torch.Generator(device=self.device).manual_seed(cfg.seed + 7919 * (self.rank + 1)),
        }
        self.epoch = 0  # completed epochs
        self.step = 0  # MNE21 Alg. 2's t
        self.last_gap = None
        self.history = []
        self.best = None  # BAT: (robust accuracy, state of h1) of the best epoch (RM20's bestAUA)
        self.selected = None  # select="best": the current phase's most robust epoch (see _select)
        self._bat_data = None
        self.weights_lp = None
        self.summary = None
        self._val = _tensors(data.val, cfg.eval_samples)

    # ---------------------------------------------------------------- state
    @property
    def members(self):
        return list(self.mixture.members)

    @property
    def sequential(self) -> bool:
        """Members trained one after the other, ``epochs`` each (BAT, BARRE)."""
        return self.cfg.algo in ("bat", "barre")

    def active(self) -> int:
        """Members trained so far (BAT and BARRE add one per phase; Alg. 2 trains all at once)."""
        if not self.sequential:
            return self.cfg.models
        return min(self.epoch // self.cfg.epochs, self.cfg.models - 1) + 1

    def current_mixture(self):
        """The mixture of the trained members with the current weights."""
        n = self.active()
        if n == self.cfg.models:
            return self.mixture
        return sub_mixture(self.members, self.mixture.weights, n)

    def state_dict(self) -> dict:
        """Everything a resumed run needs: tensors and plain containers only
        (:func:`advgame.torch.training.checkpoint.trainer_state`)."""
        return trainer_state(self)

    def load_state_dict(self, state) -> None:
        """Restore :meth:`state_dict`; a checkpoint written with other settings is a ValueError."""
        restore_trainer(self, state)

    @property
    def checkpoint_path(self):
        return None if self.out is None else os.path.join(self.out, "checkpoint.pt")

    def resume(self, path=None, *, extend=False) -> bool:
        """Load the run's checkpoint (default ``out/checkpoint.pt``); False when there is none.

        An exact resume (the default) refuses a checkpoint written with other settings.
        ``extend=True`` continues a run (finished or not) for more epochs: the trainer's
        config must be the checkpoint's with a larger ``epochs`` (epochs per member),
        nothing else changed; Alg. 2, AT and TRADES only (BAT's phases are fixed by
        its epochs per member).  The learning-rate schedule is not stretched: the
        optimizers and schedulers continue from their saved state, so the added epochs
        train at the rate the run had reached (after its milestones, ``lr * gamma^k``).
        """
        path = path or self.checkpoint_path
        if path is None or not os.path.exists(path):
            return False
        state = load_checkpoint(path, map_location=self.device)
        if extend:
            state = _extended_state(state, self.cfg)
        self.load_state_dict(state)
        return True

    # ---------------------------------------------------------------- loop
    #: draw the batches of an ``ImageDataset`` on the device (:class:`advgame.torch.data_device.DeviceBatches`,
    #: the same batches bit for bit as the DataLoader); False: the DataLoader (for benchmarks)
    device_data = True

    def _loader(self, dataset, epoch):
        from torch.utils.data import DataLoader, DistributedSampler

        from ..data import ImageDataset

        if self.device_data and isinstance(dataset, ImageDataset):
            from ..data_device import DeviceBatches

            return DeviceBatches(dataset, self.device, self.cfg.batch_size // self.world, seed=self.cfg.seed,
                                 epoch=epoch, world=self.world, rank=self.rank)

        sampler = DistributedSampler(dataset, num_replicas=self.world, rank=self.rank, shuffle=True,
                                     seed=self.cfg.seed, drop_last=False)
        sampler.set_epoch(epoch)
        if hasattr(dataset, "set_epoch"):  # the augmentation of this epoch (keyed by seed, epoch, index)
            dataset.set_epoch(epoch)
        return DataLoader(dataset, batch_size=self.cfg.batch_size // self.world, sampler=sampler)

    def _amp(self):
        """Autocast to the run's precision (a no-op in fp32)."""
        return autocast(self.precision, self.device)

    def _bar(self, loader, desc):
        if not self.progress or self.rank != 0:
            return loader
        from tqdm.auto import tqdm

        return tqdm(loader, desc=desc, leave=False, dynamic_ncols=True)

    def _epoch_mixture(self, loader):
        """MNE21 Alg. 2 over one epoch (L = 1: every batch is an AT / TRADES step)."""
        cfg, L = self.cfg, self.cfg.models
        losses = []
        for x, y in loader:
            x, y = x.to(self.device), y.to(self.device)
            self.step += 1
            if L > 1 and self.step % (cfg.t_theta * L + 1) == 0:
                seed = int(torch.randint(0, 2**62, (1,), generator=self.generators["member"]))
                with self._amp():
                    res = weight_step(cfg, self.solver, self.mixture, x, y, seed, self.world)
                self.last_gap = None if res.gap is None else float(res.gap)
                continue
            k = int(torch.randint(0, L, (1,), generator=self.generators["member"]))
            scale = float(L * self.mixture.weights[k]) if cfg.member_weighting == "lambda" else 1.0
            with self._amp():
                x_adv = adversarial_batch(cfg, self.mixture, x, y, self.generators["attack"], cfg.loss)
                losses.append(member_step(self.members[k], self.trained[k], self.optimizers[k], x_adv, y, x,
                                          cfg.loss, cfg.beta, scale=scale, scaler=self.scaler))
            _show_loss(loader, losses)
        with warnings.catch_warnings():  # a member not drawn this epoch has not stepped: harmless
            warnings.filterwarnings("ignore", message=".*lr_scheduler.step.*", category=UserWarning)
            for s in self.schedulers:
                s.step()
        return losses

    def _epoch_bat(self, phase, loader_epoch):
        """RM20 BAT: phase 0 adversarially trains h1; phase i trains h_{i+1} naturally on
        the training split attacked against the mixture of h_1..h_i (RM20, Alg. 1 and
        supplement Alg. 2)."""
        cfg, k = self.cfg, phase
        member, trained, opt = self.members[k], self.trained[k], self.optimizers[k]
        losses = []
        if phase == 0:
            single = Mixture([member])
            bar = self._bar(self._loader(self.data.train, loader_epoch), f"epoch {self.epoch + 1}")
            for x, y in bar:
                x, y = x.to(self.device), y.to(self.device)
                self.step += 1
                with self._amp():
                    x_adv = adversarial_batch(cfg, single, x, y, self.generators["attack"], "at")
                    losses.append(member_step(member, trained, opt, x_adv, y, scaler=self.scaler))
                _show_loss(bar, losses)
        else:
            if self._bat_data is None:  # D~ of this phase, deterministic: rebuilt the same on resume
                gen = torch.Generator(device=self.device).manual_seed(cfg.seed * 1000 + phase)
                w = self.mixture.weights[:phase]  # the mixture before the new member: RM20's m_h^q at step i-1
                prev = Mixture(self.members[:phase], w / w.sum())
                with self._amp():
                    self._bat_data = adversarial_dataset(cfg, prev, self.data.train, cfg.batch_size, gen,
                                                         self.device)
            bar = self._bar(self._loader(self._bat_data, loader_epoch), f"epoch {self.epoch + 1}")
            for x, y in bar:
                x, y = x.to(self.device), y.to(self.device)
                self.step += 1
                with self._amp():
                    losses.append(natural_step(member, trained, opt, x, y, scaler=self.scaler))
                _show_loss(bar, losses)
        self.schedulers[k].step()
        return losses

    def _epoch_barre(self, phase, loader_epoch):
        r"""BARRE (Dbouk & Shanbhag 2023): phase k trains member k alone, on APGD points
        against the current mixture of members 0..k (expected cross-entropy); member k
        starts from member k-1 (set when phase k-1 ends, :meth:`_end_of_epoch`). In the
        second half of each phase k >= 1, each epoch ends with a weight fit: MNE21
        Alg. 1 (``t_lambda`` projected subgradient steps, warm-started) on the members
        0..k with ARC as the attack oracle on the epoch's last batch, its certified gap
        on that batch's oracle responses in the log."""
        cfg, k = self.cfg, phase
        member, trained, opt = self.members[k], self.trained[k], self.optimizers[k]
        losses, last = [], None
        bar = self._bar(self._loader(self.data.train, loader_epoch), f"epoch {self.epoch + 1}")
        for x, y in bar:
            x, y = x.to(self.device), y.to(self.device)
            self.step += 1
            with self._amp():
                x_adv = barre_batch(cfg, self.current_mixture(), x, y, self.generators["attack"])
                losses.append(member_step(member, trained, opt, x_adv, y, scaler=self.scaler))
            _show_loss(bar, losses)
            last = (x, y)
        self.schedulers[k].step()
        if k >= 1 and self.epoch % cfg.epochs >= cfg.epochs // 2 and last is not None:
            self._barre_weights(k, *last)
        return losses

    def _barre_weights(self, k, x, y):
        """BARRE's weight fit on members 0..k (MNE21 Alg. 1 with ARC as the oracle)."""
        from ..candidates import attack_oracle
        from ..solver import MixtureSolver

        cfg = dataclasses.replace(self.cfg, weight_oracle="arc")
        sub = self.current_mixture()
        seed = int(torch.randint(0, 2**62, (1,), generator=self.generators["member"]))
        oracle = attack_oracle(sub, x, y, weight_attack(cfg), loss=cfg.weight_loss, seed=seed)
        if self.world > 1:
            from .algorithms import AllReduceOracle

            oracle = AllReduceOracle(oracle, x.shape[0])
        res = MixtureSolver("oracle", mixture=sub, max_iter=cfg.t_lambda).update(oracle=oracle)
        full = torch.zeros_like(self.mixture.weights)
        full[: k + 1] = sub.weights.to(full.dtype)
        self.mixture.set_weights(full / full.sum())
        self.last_gap = None if res.gap is None else float(res.gap)

    def validate(self, mixture=None, *, epoch=None):
        """Natural and PGD-``eval_steps`` exact expected accuracy on the validation split.

        The attack's seed is a function of the run's seed and ``epoch`` (default: the
        epoch being trained, ``self.epoch + 1``): :meth:`finish` validates the final
        model with the last epoch's seed, so the same model gets the same number."""
        cfg = self.cfg
        mixture = self.current_mixture() if mixture is None else mixture
        x, y = self._val
        attack = train_attack(cfg, steps=cfg.eval_steps)
        attack.random_start = True
        epoch = self.epoch + 1 if epoch is None else epoch
        rep = evaluate(mixture, x, y, cfg.eps, attacks={"pgd": attack}, batch_size=512,
                       seed=cfg.seed + 104729 * epoch)
        return float(rep["natural"]), float(rep["pgd"])

    @contextlib.contextmanager
    def _training_budget(self, epoch):
        """The epoch's training attacks (and weight steps) see ``config.training_budget(epoch)``
        (the eps warm-up); the full config is back for validation and checkpoints."""
        cfg = self.cfg
        eps, step = cfg.training_budget(epoch)
        if (eps, step) == (cfg.eps, cfg.step):
            yield
            return
        self.cfg = dataclasses.replace(cfg, eps=eps, step=step)
        try:
            yield
        finally:
            self.cfg = cfg

    def fit(self, max_epochs=None, on_epoch=None):
        """Train until ``config.total_epochs`` (or ``max_epochs`` more epochs of this call).

        Parameters
        ----------
        max_epochs : int, optional
        on_epoch : callable, optional
            Called on rank 0 with each epoch's log row (a dict: ``epoch``, ``members``,
            ``natural``, ``robust``, ``weights``, ``gap``, ``lr``, ``loss``, ``time``) as
            soon as the epoch ends and its checkpoint is written (``advgame train``
            prints it).

        Returns
        -------
        list of dict
            The per-epoch log (also in ``out/log.csv`` and ``out/log.json``).
        """
        cfg = self.cfg
        done = 0
        if self.out is not None and self.rank == 0:  # the run's settings, readable, next to its checkpoint
            os.makedirs(self.out, exist_ok=True)
            save_config(os.path.join(self.out, "config.json"), cfg)
        while self.epoch < cfg.total_epochs and (max_epochs is None or done < max_epochs):
            t0 = time.perf_counter()
            phase = self.epoch // cfg.epochs if self.sequential else None
            lr = float(self.optimizers[phase or 0].param_groups[0]["lr"])  # the rate this epoch trains at
            with diverged_as_error(self, lr), self._training_budget(self.epoch + 1):  # NaN mid-epoch: diverged
                if cfg.algo == "bat":
                    losses = self._epoch_bat(phase, self.epoch)
                elif cfg.algo == "barre":
                    losses = self._epoch_barre(phase, self.epoch)
                else:
                    loader = self._bar(self._loader(self.data.train, self.epoch), f"epoch {self.epoch + 1}")
                    losses = self._epoch_mixture(loader)
            check_finite_training(self, losses, lr)  # a diverged epoch is never validated nor saved
            natural, robust = self.validate()
            row = {
                "epoch": self.epoch + 1, "members": self.active(), "natural": natural, "robust": robust,
                "weights": [float(w) for w in self.current_mixture().weights],
                "gap": self.last_gap, "lr": lr,
                "loss": float(sum(losses) / len(losses)) if losses else None,
            }
            self._end_of_epoch(robust)
            self.epoch += 1
            done += 1
            row["time"] = time.perf_counter() - t0
            self.history.append(row)
            if self.out is not None:
                state = self.state_dict()  # on every rank: gathers the ranks' generator states
                if self.rank == 0:
                    os.makedirs(self.out, exist_ok=True)
                    save_checkpoint(self.checkpoint_path, state)
                    write_logs(self.out, self.history)
            if on_epoch is not None and self.rank == 0:
                on_epoch(row)
        return self.history

    def finish(self, label=None) -> dict:
        """After the last epoch: the final weights' validation accuracies, the LP weights
        when ``config.weights_lp`` (with their accuracies: the report shows both), the
        figure, ``out/summary.json`` and the final checkpoint.  Returns the summary."""
        cfg = self.cfg
        if self.epoch < cfg.total_epochs:
            raise ValueError(f"the run is not finished ({self.epoch} of {cfg.total_epochs} epochs)")
        import json

        chosen = self.selected["epoch"] if self.selected is not None else self.epoch
        natural, robust = self.validate(epoch=chosen)  # the chosen epoch's seed: one model, one number
        summary = {"epochs": self.epoch, "weights": [float(w) for w in self.mixture.weights],
                   "natural": natural, "robust": robust, "last_gap": self.last_gap, "select": cfg.select,
                   "selected_epoch": chosen}
        if cfg.weights_lp:
            w, res = lp_weights(self.mixture, *self._val, cfg, seed=cfg.seed)
            self.weights_lp = w.to(torch.float32)
            lp_mix = Mixture(self.members, self.weights_lp.to(self.device))
            nat_lp, rob_lp = self.validate(lp_mix, epoch=chosen)
            summary["lp"] = {"weights": [float(v) for v in w], "natural": nat_lp, "robust": rob_lp,
                             "game_value": float(res.value), "gap": float(res.gap)}
        self.summary = summary
        state = self.state_dict() if self.out is not None else None
        if self.rank == 0 and self.out is not None:
            save_checkpoint(self.checkpoint_path, state)
            from ..._io import atomic_path

            with atomic_path(os.path.join(self.out, "summary.json")) as tmp:
                with open(tmp, "w", encoding="utf-8") as f:
                    json.dump(finite_json(summary), f, indent=1, allow_nan=False)
            write_figure(self.out, {label or f"{cfg.algo}, L={cfg.models}": self.history})
        return summary

    def _phase_members(self):
        """Indices of the members the current phase trains."""
        if self.sequential:
            return [min(self.epoch // self.cfg.epochs, self.cfg.models - 1)]
        return list(range(self.cfg.models))

    def _select(self, robust):
        """``select="best"``: keep the current phase's most robust epoch (validation PGD)
        and restore its members and weights when the phase ends (MNE21 Sec. 5.2)."""
        cfg = self.cfg
        if cfg.select != "best" or (cfg.algo == "bat" and self.epoch < cfg.epochs):  # BAT's h1: bestAUA below
            return
        phase_start = (self.epoch // cfg.epochs) * cfg.epochs if self.sequential else 0
        if self.selected is None or self.selected.get("phase_start") != phase_start or robust > self.selected["score"]:
            ks = self._phase_members()
            self.selected = {
                "score": float(robust), "epoch": self.epoch + 1, "phase_start": phase_start, "members": ks,
                "states": [{n: v.detach().clone() for n, v in self.members[k].state_dict().items()} for k in ks],
                "weights": self.mixture.weights.detach().clone(),
            }
        phase_end = (phase_start + cfg.epochs) if self.sequential else cfg.total_epochs
        if self.epoch + 1 == phase_end and self.selected["epoch"] != self.epoch + 1:
            for k, st in zip(self.selected["members"], self.selected["states"]):
                self.members[k].load_state_dict(st)
            self.mixture.set_weights(self.selected["weights"].to(self.mixture.weights.device))

    def _end_of_epoch(self, robust):
        """Best-epoch selection; BAT bookkeeping (RM20's bestAUA for h1, the weights of each
        new member); BARRE's next member (a copy of the last one, uniform weights)."""
        cfg = self.cfg
        self._select(robust)
        if cfg.algo == "barre":
            phase, last = divmod(self.epoch, cfg.epochs)
            if last == cfg.epochs - 1 and phase + 1 < cfg.models:
                self.members[phase + 1].load_state_dict(self.members[phase].state_dict())
                full = torch.zeros_like(self.mixture.weights)
                full[: phase + 2] = 1.0 / (phase + 2)
                self.mixture.set_weights(full)
            return
        if cfg.algo != "bat":
            return
        phase, last = divmod(self.epoch, cfg.epochs)
        if phase == 0 and (self.best is None or robust > self.best[0]):
            self.best = (robust, {k: v.detach().clone() for k, v in self.members[0].state_dict().items()})
        if last != cfg.epochs - 1:
            return
        if phase == 0:
            self.members[0].load_state_dict(self.best[1])
        if phase + 1 < cfg.models:  # the next member enters with weight alpha (RM20 suppl., Alg. 2)
            w = bat_weights(self.mixture.weights[: phase + 1], cfg.mixture_weight)
            full = torch.zeros_like(self.mixture.weights)
            full[: phase + 2] = w
            self.mixture.set_weights(full)
        self._bat_data = None
