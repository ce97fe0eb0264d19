"""Every hyperparameter of a training run, in one validated, serializable record."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ..._validation import check_bool, check_choice, check_int, check_real, check_seed

__all__ = ["TrainConfig", "ALGOS", "DATASETS", "WEIGHT_METHODS"]

#: training algorithms: MNE21 Alg. 2, RM20 BAT, and the L = 1 baselines (Madry AT, TRADES)
ALGOS = ("mixture", "bat", "at", "trades")
DATASETS = ("cifar10", "cifar100", "digits")
#: solvers for the weight step of MNE21 Alg. 2 (through ``MixtureSolver``)
WEIGHT_METHODS = ("oracle", "entropic", "lp")


@dataclass
class TrainConfig:
    r"""The settings of :class:`advgame.torch.training.Trainer`.

    Defaults follow the papers: SGD with momentum 0.9, learning rate 0.1 divided by 10
    at 50 % and 75 % of the epochs, weight decay 5e-4 (MNE21) or 2e-4 (RM20, BAT);
    :math:`\ell_\infty` threat model with eps 8/255, step 2/255; 10 PGD steps in
    training for MNE21 Alg. 2 and AT/TRADES, 20 for BAT (RM20, footnote 4); TRADES
    beta = 6; BAT mixture weight alpha = 0.2 (RM20, Table 1).

    Parameters
    ----------
    algo : {"mixture", "bat", "at", "trades"}
        ``"mixture"``: MNE21, Alg. 2 with ``loss``; ``"bat"``: RM20, Alg. 1 (two
        members) and its n-member extension (supplement, Alg. 2); ``"at"`` /
        ``"trades"``: one member, Alg. 2 with L = 1 (Madry et al. AT / TRADES).
    dataset : {"cifar10", "cifar100", "digits"}
    models : int
        L, the number of members (1 for ``"at"`` and ``"trades"``).
    epochs : int
        Epochs per member: Alg. 2 runs ``L * epochs`` epochs in all (MNE21, Sec. 5.2:
        "L x 200 epochs"), BAT trains each member for ``epochs`` epochs.
    arch : str
        A name for ``advgame.torch.models.build_model`` (default ``"resnet18"`` on CIFAR,
        ``"small-mlp"`` on digits).
    batch_size : int
        The global batch (split over the processes of a ``torchrun`` run).
    lr, momentum, weight_decay : float
        SGD settings (``weight_decay`` default: 2e-4 for BAT, 5e-4 otherwise).
    milestones : tuple of float
        Fractions of each schedule's epochs at which the learning rate is multiplied
        by ``gamma`` (a step schedule; ``torch.optim.lr_scheduler.MultiStepLR``).
    gamma : float
    eps, step : float
        Radius and step of the :math:`\ell_\infty` PGD attacks (default 8/255, 2/255).
    attack_steps : int
        PGD iterations of the training attack (default 10; 20 for BAT).
    random_start : bool
        Start the training attack uniformly in the ball.
    loss : {"at", "trades"}
        Inner loss of Alg. 2: cross-entropy on the adversarial points (AT) or TRADES.
    beta : float
        TRADES' trade-off (default 6).
    t_theta, t_lambda : int
        MNE21 Alg. 2's :math:`T_\theta` (model steps per member between weight steps) and
        :math:`T_\lambda` (solver iterations per weight step).
    weight_method : {"oracle", "entropic", "lp"}
        The solver of the weight step.
    weight_loss : {"01", "ce"}
        The loss of the game the weight step solves.
    temperature : float
        Entropic regularization (``weight_method="entropic"``).
    mixture_weight : float
        BAT's alpha, the weight of each new member.
    weights_lp : bool
        After training, also compute the optimal weights of the validation split's
        candidate game by the exact LP (``--weights lp``).
    eval_steps : int
        PGD iterations of the per-epoch validation (default 20).
    eval_samples : int or None
        Validation examples used per epoch (default all).
    val_size : float
        Fraction of the training data held out for validation.
    augment : bool
        Random crop with padding and horizontal flips (CIFAR).
    seed : int
    precision : {"fp32", "bf16", "fp16"} or None
        The members' forward passes (attacks and SGD steps) under ``torch.autocast``
        (:mod:`advgame.torch.training.precision`; a ``GradScaler`` for fp16); None:
        bf16 on a CUDA device that supports it, fp32 elsewhere.  Validation runs in
        float32.
    channels_last : bool or None
        Convolution kernels in ``torch.channels_last``; None: on CUDA devices only.
    compile : bool
        ``torch.compile`` the members' forward (off by default; it pays on a GPU for
        runs long enough to amortize the compilation, about a minute per precision).
    """

    algo: str = "mixture"
    dataset: str = "digits"
    models: int = 2
    epochs: int = 1
    arch: str | None = None
    batch_size: int = 128
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float | None = None
    milestones: tuple = (0.5, 0.75)
    gamma: float = 0.1
    eps: float = 8 / 255
    step: float = 2 / 255
    attack_steps: int | None = None
    random_start: bool = True
    loss: str = "at"
    beta: float = 6.0
    t_theta: int = 1
    t_lambda: int = 5
    weight_method: str = "oracle"
    weight_loss: str = "01"
    temperature: float = 1e-2
    mixture_weight: float = 0.2
    weights_lp: bool = False
    eval_steps: int = 20
    eval_samples: int | None = None
    val_size: float = 0.1
    augment: bool = False
    seed: int = 0
    precision: str | None = None
    channels_last: bool | None = None
    compile: bool = False

    def __post_init__(self):
        check_choice("algo", self.algo, ALGOS)
        check_choice("dataset", self.dataset, DATASETS)
        self.models = check_int("models", self.models, 1)
        if self.algo in ("at", "trades"):
            if self.models != 1:
                raise ValueError(f"models must be 1 for algo={self.algo!r} (use algo='mixture' for L > 1); "
                                 f"got {self.models}")
            self.loss = self.algo
        if self.algo == "bat" and self.models < 2:
            raise ValueError(f"models must be at least 2 for algo='bat'; got {self.models}")
        self.epochs = check_int("epochs", self.epochs, 1)
        if self.arch is None:
            self.arch = "small-mlp" if self.dataset == "digits" else "resnet18"
        if not isinstance(self.arch, str):
            raise TypeError(f"arch must be a model name (str); got {self.arch!r}")
        self.batch_size = check_int("batch_size", self.batch_size, 1)
        self.lr = check_real("lr", self.lr, lo=0, lo_open=True)
        self.momentum = check_real("momentum", self.momentum, lo=0, hi=1, hi_open=True)
        if self.weight_decay is None:
            self.weight_decay = 2e-4 if self.algo == "bat" else 5e-4
        self.weight_decay = check_real("weight_decay", self.weight_decay, lo=0)
        if not isinstance(self.milestones, (tuple, list)):
            raise TypeError(f"milestones must be a sequence of fractions in (0, 1); got {self.milestones!r}")
        self.milestones = tuple(check_real("milestones", m, lo=0, hi=1, lo_open=True, hi_open=True)
                                for m in self.milestones)
        self.gamma = check_real("gamma", self.gamma, lo=0, hi=1, lo_open=True)
        self.eps = check_real("eps", self.eps, lo=0)
        self.step = check_real("step", self.step, lo=0, lo_open=True)
        if self.attack_steps is None:
            self.attack_steps = 20 if self.algo == "bat" else 10
        self.attack_steps = check_int("attack_steps", self.attack_steps, 1)
        self.random_start = check_bool("random_start", self.random_start)
        check_choice("loss", self.loss, ("at", "trades"))
        self.beta = check_real("beta", self.beta, lo=0)
        self.t_theta = check_int("t_theta", self.t_theta, 1)
        self.t_lambda = check_int("t_lambda", self.t_lambda, 1)
        check_choice("weight_method", self.weight_method, WEIGHT_METHODS)
        check_choice("weight_loss", self.weight_loss, ("01", "ce"))
        self.temperature = check_real("temperature", self.temperature, lo=0, lo_open=True)
        self.mixture_weight = check_real("mixture_weight", self.mixture_weight, lo=0, hi=1, lo_open=True,
                                         hi_open=True)
        self.weights_lp = check_bool("weights_lp", self.weights_lp)
        self.eval_steps = check_int("eval_steps", self.eval_steps, 1)
        self.eval_samples = check_int("eval_samples", self.eval_samples, 1, allow_none=True)
        self.val_size = check_real("val_size", self.val_size, lo=0, hi=1, lo_open=True, hi_open=True)
        self.augment = check_bool("augment", self.augment)
        self.seed = check_seed(self.seed)
        if self.seed is None:
            raise ValueError("seed must be an int >= 0 (a training run is reproducible); got None")
        if self.seed >= 2**32:  # the members' and attacks' seeds derived from it must fit torch's generators
            raise ValueError(f"seed must be an int in [0, 2**32); got {self.seed}")
        if self.precision is not None:
            check_choice("precision", self.precision, ("fp32", "bf16", "fp16"))
        if self.channels_last is not None:
            self.channels_last = check_bool("channels_last", self.channels_last)
        self.compile = check_bool("compile", self.compile)

    @property
    def total_epochs(self) -> int:
        """Epochs of the whole run: ``models * epochs`` (each member gets ``epochs``)."""
        return self.models * self.epochs

    def to_dict(self) -> dict:
        """Plain Python values only (safe for ``torch.load(weights_only=True)`` and JSON)."""
        d = dataclasses.asdict(self)
        d["milestones"] = list(self.milestones)
        return d

    @classmethod
    def from_dict(cls, d) -> "TrainConfig":
        """Inverse of :meth:`to_dict`; unknown keys are a ``ValueError``."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ValueError(f"unknown training settings in the checkpoint: {sorted(unknown)}")
        d = dict(d)
        if "milestones" in d:
            d["milestones"] = tuple(d["milestones"])
        return cls(**d)
