"""Every hyperparameter of a training run, in one validated, serializable record."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ..._validation import check_bool, check_choice, check_int, check_real, check_seed

__all__ = ["TrainConfig", "ALGOS", "DATASETS", "WEIGHT_METHODS", "WEIGHT_ORACLES", "SELECTIONS", "MEMBER_WEIGHTINGS", "THREAT_MODELS", "save_config", "load_config",
           "CONFIG_FORMAT"]

#: training algorithms: MNE21 Alg. 2, RM20 BAT, and the L = 1 baselines (Madry AT, TRADES)
ALGOS = ("mixture", "bat", "at", "trades", "barre")
DATASETS = ("cifar10", "cifar100", "digits")
#: solvers for the weight step of MNE21 Alg. 2 (through ``MixtureSolver``)
WEIGHT_METHODS = ("oracle", "entropic", "lp")
#: the attack behind the weight step's losses: the training PGD, or ARC (Dbouk & Shanbhag 2022)
WEIGHT_ORACLES = ("pgd", "arc")
#: which model a run ends with: the last epoch's, or (per member phase) the epoch most robust
#: to validation PGD (MNE21 Sec. 5.2)
SELECTIONS = ("best", "last")
#: Alg. 2's member step: plain cross-entropy, or scaled by L * lambda_k
MEMBER_WEIGHTINGS = ("none", "lambda")
#: each data set's default Linf threat model ``(eps, step)``: the papers' 8/255 and 2/255
#: on CIFAR; on digits (8x8 images in [0, 1], where 8/255 moves no prediction) the
#: docs' 0.2 and 0.05
THREAT_MODELS = {"cifar10": (8 / 255, 2 / 255), "cifar100": (8 / 255, 2 / 255), "digits": (0.2, 0.05)}
#: the ``format`` entry of ``config.json``
CONFIG_FORMAT = "advgame-train-config-1"
#: the largest ``config.json`` read (a settings file is a few hundred bytes)
_MAX_CONFIG_BYTES = 1 << 20


@dataclass
class TrainConfig:
    r"""The settings of :class:`advgame.torch.training.Trainer`.

    Defaults follow the papers: SGD with momentum 0.9, learning rate 0.1 divided by 10
    at 50 % and 75 % of the epochs, weight decay 5e-4 (MNE21) or 2e-4 (RM20, BAT);
    :math:`\ell_\infty` threat model with eps 8/255, step 2/255 on CIFAR (0.2 and 0.05 on
    digits: :data:`THREAT_MODELS`); 10 PGD steps in
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
        Radius and step of the :math:`\ell_\infty` PGD attacks (default: the data
        set's, :data:`THREAT_MODELS`: 8/255 and 2/255 on CIFAR, 0.2 and 0.05 on digits).
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
    select : {"best", "last"}
        Which model the run ends with (default ``"best"``): per member phase (the whole run
        for Alg. 2, AT and TRADES; each member's epochs for BAT and BARRE), the epoch most
        robust to the validation PGD, its members and weights restored when the phase
        ends, as MNE21 Sec. 5.2 keeps "the most robust epoch" (BAT's first member always
        gets RM20's bestAUA); ``"last"``: the last epoch's.
    width : float
        Multiplies the members' width (:func:`advgame.torch.models.build_model`,
        :func:`~advgame.torch.models.matched_width`): the parameter-matched baseline of a
        mixture of L members is one member of width ``matched_width(arch, ..., L)``.
    weight_oracle : {"pgd", "arc"}
        The attack whose losses the weight step uses (``weight_method="oracle"``, and the
        candidate game otherwise): the training PGD on the expected logits, or ARC
        (Dbouk & Shanbhag 2022), as BARRE's weight fit. BARRE always uses ARC.
    member_weighting : {"none", "lambda"}
        Alg. 2's member step: plain cross-entropy (``"none"``; MNE21's text does not say
        more) or multiplied by ``L * lambda_k`` (members the mixture weighs more learn
        faster; uniform weights give the plain step).
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
    eps_warmup : int
        Epochs over which the training budget grows linearly to ``eps`` (0: none, the
        default): epoch ``j <= eps_warmup`` of the run trains at ``eps * j / eps_warmup``
        with the step in proportion (:meth:`training_budget`), the weight steps too;
        validation and best-epoch selection always use the full ``eps``.  The warm-up
        lies in the first member's epochs (at most ``epochs``): the models trained from
        scratch (AT, TRADES, Alg. 2's members, BAT's and BARRE's first member).  It keeps
        adversarial training from collapsing to a constant classifier where the budget is
        large (digits at eps 0.3, docs/studies.md).
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
    eps: float | None = None
    step: float | None = None
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
    select: str = "best"
    width: float = 1.0
    weight_oracle: str = "pgd"
    member_weighting: str = "none"
    precision: str | None = None
    channels_last: bool | None = None
    compile: bool = False
    eps_warmup: int = 0

    def __post_init__(self):
        check_choice("algo", self.algo, ALGOS)
        check_choice("dataset", self.dataset, DATASETS)
        self.models = check_int("models", self.models, 1)
        if self.algo in ("at", "trades"):
            if self.models != 1:
                raise ValueError(f"models must be 1 for algo={self.algo!r} (use algo='mixture' for L > 1); "
                                 f"got {self.models}")
            self.loss = self.algo
        if self.algo in ("bat", "barre") and self.models < 2:
            raise ValueError(f"models must be at least 2 for algo={self.algo!r}; got {self.models}")
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
        default_eps, default_step = THREAT_MODELS[self.dataset]
        self.eps = check_real("eps", default_eps if self.eps is None else self.eps, lo=0)
        self.step = check_real("step", default_step if self.step is None else self.step, lo=0, lo_open=True)
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
        check_choice("select", self.select, SELECTIONS)
        self.width = check_real("width", self.width, lo=0, lo_open=True, hi=64)
        check_choice("weight_oracle", self.weight_oracle, WEIGHT_ORACLES)
        check_choice("member_weighting", self.member_weighting, MEMBER_WEIGHTINGS)
        if self.seed >= 2**32:  # the members' and attacks' seeds derived from it must fit torch's generators
            raise ValueError(f"seed must be an int in [0, 2**32); got {self.seed}")
        if self.precision is not None:
            check_choice("precision", self.precision, ("fp32", "bf16", "fp16"))
        if self.channels_last is not None:
            self.channels_last = check_bool("channels_last", self.channels_last)
        self.compile = check_bool("compile", self.compile)
        self.eps_warmup = check_int("eps_warmup", self.eps_warmup, 0)
        if self.eps_warmup > self.epochs:
            raise ValueError(f"eps_warmup must be at most epochs ({self.epochs}): the warm-up is part of the "
                             f"first member's epochs; got {self.eps_warmup}")

    def training_budget(self, epoch: int) -> tuple:
        """``(eps, step)`` of the training attacks in ``epoch`` (1-based, of the whole run):
        ``eps * min(1, epoch / eps_warmup)`` and the step in proportion during the warm-up,
        the full budget afterwards (validation always uses the full ``eps``)."""
        if self.eps_warmup == 0 or epoch >= self.eps_warmup:
            return self.eps, self.step
        f = max(int(epoch), 1) / self.eps_warmup
        return self.eps * f, self.step * f

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
        if not isinstance(d, dict):
            raise TypeError(f"training settings must be a dict; got {type(d).__name__}")
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ValueError(f"unknown training settings: {sorted(map(str, unknown))} (known: {sorted(names)})")
        d = dict(d)
        if "milestones" in d:
            if not isinstance(d["milestones"], (list, tuple)):
                raise TypeError(f"milestones must be a list of fractions in (0, 1); got {d['milestones']!r}")
            d["milestones"] = tuple(d["milestones"])
        return cls(**d)


def save_config(path, config) -> None:
    """Write ``config`` (a :class:`TrainConfig`) as readable JSON, atomically:
    ``{"format": CONFIG_FORMAT, <setting>: <value>, ...}`` (``advgame train`` writes it
    as ``OUT/config.json``; :func:`load_config` and ``advgame train --config`` read it)."""
    import json

    from ..._io import atomic_path

    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a TrainConfig; got {type(config).__name__}")
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump({"format": CONFIG_FORMAT, **config.to_dict()}, f, indent=1)
            f.write("\n")


def load_config(path) -> TrainConfig:
    """Read a settings file written by :func:`save_config`, as untrusted input.

    The file must be a JSON object of at most 1 MiB with ``"format":
    "advgame-train-config-1"`` and known settings only; every value is validated by
    :class:`TrainConfig`.  Settings left out take their defaults.

    Raises
    ------
    ValueError
        Naming the file: unreadable, not JSON, not a settings object, an unknown
        setting or an invalid value (a TypeError of a value is reported as
        ValueError too, so that a bad file is one kind of error).
    """
    import json
    import os

    path = os.fspath(path)
    try:
        with open(path, "rb") as f:
            raw = f.read(_MAX_CONFIG_BYTES + 1)
    except OSError as err:
        raise ValueError(f"cannot read the training settings {path!r}: {err.strerror or err}") from None
    if len(raw) > _MAX_CONFIG_BYTES:
        raise ValueError(f"{path!r} is larger than {_MAX_CONFIG_BYTES} bytes: not a training settings file")
    try:
        data = json.loads(raw.decode("utf-8"), parse_constant=_no_constant)
    except (UnicodeDecodeError, ValueError) as err:
        raise ValueError(f"{path!r} is not a JSON settings file: {err}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path!r} must hold a JSON object of training settings; got {type(data).__name__}")
    fmt = data.pop("format", None)
    if fmt != CONFIG_FORMAT:
        raise ValueError(f"{path!r} is not an advgame training settings file (format {fmt!r}, expected "
                         f"{CONFIG_FORMAT!r})")
    try:
        return TrainConfig.from_dict(data)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{path!r}: {err}") from None


def _no_constant(name):
    raise ValueError(f"{name} is not a valid setting value")
