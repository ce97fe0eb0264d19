r"""Worst-case evaluation of a mixture over a set of adaptive attacks.

A mixture is only as robust as the strongest adaptive attack tried: adaptive PGD on
the expected logits or loss (RM20), APGD-CE/DLR (MNE21) and ARC (Dbouk & Shanbhag
2022) each find points the others miss -- ARC lowers BAT mixtures by 14-20 points
where adaptive PGD reports them robust.  :func:`evaluate` runs them all and reports,
besides each attack's accuracy, the **per-example worst case** over all of them,

.. math::

    \operatorname{acc}_{worst} = \frac1N \sum_i \min\Bigl(\operatorname{acc}_\lambda(x_i, y_i),
    \ \min_a \operatorname{acc}_\lambda(x_i^{(a)}, y_i)\Bigr),

every accuracy being the *exact* expectation over the members,
:math:`\operatorname{acc}_\lambda(x, y) = \sum_k \lambda_k 1[h_k(x) = y]` (RM20,
Sec. 6: "we give the exact expected accuracy"): no Monte Carlo anywhere.
"""

from __future__ import annotations

import json
import time

import torch

from .._validation import check_bool, check_int, check_norm, check_real
from ._checks import check_bounds, check_labels, check_tensor, make_generator
from .attacks import APGD, ARC, CW, PGD, Attack
from .attacks.adapters import as_attack, is_torchattacks
from .attacks._base import NORMS, lp_norm
from .mixture import as_mixture
from .modes import eval_mode

__all__ = ["evaluate", "evaluate_loader", "default_attacks", "EvaluationReport", "ATTACK_NAMES", "SUITES"]

#: the named suites of :func:`evaluate` (see :mod:`advgame.torch.suites`)
SUITES = ("quick", "standard", "full")

#: the attacks of ``attacks="all"``, per norm, in the order they are run
ATTACK_NAMES = {
    "linf": ("pgd-logits", "pgd-loss", "apgd-ce", "apgd-dlr", "arc"),
    "l2": ("pgd-logits", "pgd-loss", "cw-logits", "cw-loss", "apgd-ce", "apgd-dlr", "arc"),
}


def default_attacks(eps, norm="linf", bounds=(0.0, 1.0), names="all") -> dict:
    r"""The published settings of every attack, as unbound templates.

    ============  ==========================================================  =============================
    name          settings                                                    source
    ============  ==========================================================  =============================
    pgd-logits    PGD on the expected logits, step eps/4, 100 steps, 3        RM20 supplement Sec. 2.2
                  random restarts
    pgd-loss      same, on the expected loss                                  RM20 supplement Sec. 2.2
    cw-logits     C&W L2 on the expected logits, c=1e-3, 9 binary steps,      RM20 Sec. 6, supplement
                  100 Adam steps, lr 0.01, rejection threshold eps (L2 only)
    cw-loss       same, on the expected margin (L2 only)                      RM20 supplement Sec. 2.2
    apgd-ce       APGD, expected cross-entropy, 100 steps, 5 restarts         MNE21 Sec. 5.2
    apgd-dlr      APGD, expected DLR loss, 100 steps, 5 restarts (C >= 3)     MNE21 Sec. 5.2
    arc           ARC, 20 steps, step eps (Linf) or eps/4 (L2)                Dbouk & Shanbhag 2022
    ============  ==========================================================  =============================

    Parameters
    ----------
    eps : float
    norm : {"linf", "l2"}
    bounds : (float, float)
    names : "all" or sequence of str
        A subset of :data:`ATTACK_NAMES` for ``norm``, plus any of ``apgd-t``,
        ``square``, ``margin-subsets``, ``multi-targeted`` and ``transfer`` (with
        their ``"standard"`` suite settings, :func:`advgame.torch.suites.make_attack`;
        never part of ``"all"``).

    Returns
    -------
    dict of str to Attack
        Unbound templates (``model=None``), in :data:`ATTACK_NAMES` order.
    """
    eps = check_real("eps", eps, lo=0)
    norm = check_norm(norm, allowed=NORMS)
    bounds = check_bounds(bounds)
    from .suites import ALL_ATTACK_NAMES, make_attack

    valid = ATTACK_NAMES[norm]
    if isinstance(names, str):
        if names != "all":
            raise ValueError(f"attacks must be 'all', a list of names from {valid}, or a dict of Attack; got {names!r}")
        names = valid
    names = list(names)
    extra_ok = tuple(n for n in ALL_ATTACK_NAMES if n not in valid and not (n.startswith("cw-") and norm != "l2"))
    for n in names:
        if n not in valid and n not in extra_ok:
            raise ValueError(f"unknown attack {n!r} for norm={norm!r}; valid names: {valid + extra_ok}")
    common = dict(eps=eps, bounds=bounds)
    make = {
        "pgd-logits": lambda: PGD(norm=norm, steps=100, restarts=3, expectation="logits", **common),
        "pgd-loss": lambda: PGD(norm=norm, steps=100, restarts=3, expectation="loss", **common),
        "cw-logits": lambda: CW(expectation="logits", **common),
        "cw-loss": lambda: CW(expectation="loss", **common),
        "apgd-ce": lambda: APGD(norm=norm, loss="ce", steps=100, restarts=5, **common),
        "apgd-dlr": lambda: APGD(norm=norm, loss="dlr", steps=100, restarts=5, **common),
        "arc": lambda: ARC(norm=norm, steps=20, **common),
    }
    out = {n: make[n]() for n in valid if n in names}
    for n in names:
        if n not in out:  # apgd-t, square and the mixture attacks, with their "standard" settings
            out[n] = make_attack(n, eps, norm, bounds, "standard")
    return out


class EvaluationReport(dict):
    """Exact expected accuracies: ``natural``, one entry per attack, and ``worst``.

    A ``dict`` of ``str -> float``; ``str(report)`` is a table.

    Attributes
    ----------
    per_example : dict of str to torch.Tensor (N,)
        Per-example exact expected accuracies (float64, on the CPU), same keys.
    seconds : dict of str to float
        Wall time of each attack.
    eps : float
    norm : str
    n : int
        Number of examples.
    skipped : dict of str to str
        Attacks of ``"all"`` or of the suite that were not run, with the reason.
    settings : dict of str to str
        Every attack's settings (its ``repr``).
    suite : str or None
    adversarials : torch.Tensor or None
        With ``keep_adversarials``: per example, the input that gives the worst case
        (the clean input where no attack lowered the accuracy), on the CPU.
    checks : list of Check
        The sanity checks' results (:mod:`advgame.torch.checks`), empty when not run.
    """

    def __init__(self, values, per_example, seconds, eps, norm, n, skipped, *, settings=None, suite=None,
                 adversarials=None, checks=None):
        super().__init__(values)
        self.per_example = per_example
        self.seconds = seconds
        self.eps = eps
        self.norm = norm
        self.n = n
        self.skipped = skipped
        self.settings = dict(settings or {})
        self.suite = suite
        self.adversarials = adversarials
        self.checks = list(checks or [])

    @property
    def attacks(self) -> list:
        """The names of the attacks that ran, in order."""
        return [k for k in self if k not in ("natural", "worst")]

    def broken_by(self, atol=1e-12) -> list:
        """Per example, the attacks that reach its worst-case accuracy below the natural one.

        Returns
        -------
        list of list of str
            Empty for an example no attack lowered.
        """
        per = self.per_example
        out = []
        for i in range(self.n):
            w, nat = float(per["worst"][i]), float(per["natural"][i])
            out.append([a for a in self.attacks if w < nat - atol and float(per[a][i]) <= w + atol])
        return out

    def flags(self) -> list:
        """Names of the sanity checks that failed."""
        return [c.name for c in self.checks if not c.passed]

    def to_dict(self, per_example=True) -> dict:
        """Everything in the report as JSON-ready Python objects.

        Parameters
        ----------
        per_example : bool
            Include, per example, every attack's accuracy, the worst case and the
            attacks that broke it.
        """
        d = {"suite": self.suite, "eps": self.eps, "norm": self.norm, "n": self.n, "accuracy": dict(self),
             "seconds": dict(self.seconds), "settings": dict(self.settings), "skipped": dict(self.skipped),
             "checks": [c.to_dict() for c in self.checks], "flags": self.flags()}
        if per_example:
            per = {k: [round(float(v), 12) for v in self.per_example[k]] for k in self}
            d["per_example"] = {"accuracy": per, "broken_by": self.broken_by()}
        return d

    def save_json(self, path, **extra) -> None:
        """Write :meth:`to_dict` (with ``extra`` keys first) to ``path``, atomically."""
        from .._io import atomic_path

        from .training.integrity import finite_json

        payload = dict(extra)
        payload.update(self.to_dict())
        with atomic_path(path) as tmp:
            with open(tmp, "w", encoding="utf-8") as f:
                json.dump(finite_json(payload), f, indent=1, allow_nan=False)  # NaN -> null: valid JSON

    def save_adversarials(self, path) -> None:
        """Save the worst-case inputs (``keep_adversarials=True``) with ``torch.save``,
        atomically: ``{"x_adv": (N, ...), "accuracy": (N,), "eps", "norm"}`` of tensors
        and numbers only, readable with ``torch.load(path, weights_only=True)``."""
        if self.adversarials is None:
            raise ValueError("the report holds no adversarial inputs: evaluate with keep_adversarials=True")
        from .._io import atomic_path

        payload = {"x_adv": self.adversarials, "accuracy": self.per_example["worst"], "eps": float(self.eps),
                   "norm": self.norm}
        with atomic_path(path) as tmp:
            torch.save(payload, tmp)

    def table(self) -> str:
        """The report as a fixed-width text table."""
        width = max(len(k) for k in self) + 2
        lines = [
            f"robust accuracy (exact expectation over the mixture), {self.norm} eps={self.eps:.6g}, n={self.n}",
            f"{'attack':<{width}}{'accuracy':>10}{'time [s]':>11}",
        ]
        for k, v in self.items():
            t = self.seconds.get(k)
            ts = f"{t:11.2f}" if t is not None else f"{'-':>11}"
            lines.append(f"{k:<{width}}{v:10.4f}{ts}")
        for k, why in self.skipped.items():
            lines.append(f"{k:<{width}}{'skipped':>10}  ({why})")
        if self.settings:
            lines.append("settings:")
            lines.extend(f"  {k}: {v}" for k, v in self.settings.items())
        if self.checks:
            lines.append("sanity checks:")
            for c in self.checks:
                lines.append(f"  [{'ok' if c.passed else 'FLAG'}] {c.name}: {c.summary}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.table()


def _is_single(a):
    return isinstance(a, Attack) or is_torchattacks(a) or (callable(a) and not isinstance(a, (str, dict, type)))


def _resolve(attacks, eps, norm, bounds, n_classes):
    skipped = {}
    if _is_single(attacks) and not isinstance(attacks, Attack):
        attacks = as_attack(attacks, eps=eps, norm=norm, bounds=bounds)
    if not isinstance(attacks, (str, dict, Attack)):
        try:
            attacks = list(attacks)
        except TypeError:
            raise TypeError(
                f"attacks must be 'all', a list of names, a dict of str to Attack or a list of Attack; got {attacks!r}"
            ) from None
    if isinstance(attacks, dict):
        resolved = {}
        for k, a in attacks.items():
            if not isinstance(a, Attack) and not _is_single(a):
                raise TypeError(
                    f"attacks[{k!r}] must be an Attack, a torchattacks attack or a callable (x, y) -> x_adv; "
                    f"got {type(a).__name__}"
                )
            resolved[k] = as_attack(a, eps=eps, norm=norm, bounds=bounds, name=k)
    elif isinstance(attacks, Attack):
        resolved = {attacks.name: attacks}
    elif isinstance(attacks, str) or all(isinstance(a, str) for a in attacks):
        resolved = default_attacks(eps, norm, bounds, attacks)
        if attacks == "all" and n_classes < 3 and "apgd-dlr" in resolved:
            del resolved["apgd-dlr"]
            skipped["apgd-dlr"] = f"the DLR loss needs >= 3 classes; the model has {n_classes}"
    else:
        resolved = {}
        for a in attacks:
            if not _is_single(a):
                raise TypeError(
                    f"attacks must hold Attack instances, torchattacks attacks, callables or names; "
                    f"got {type(a).__name__}"
                )
            a = as_attack(a, eps=eps, norm=norm, bounds=bounds)
            name, i = a.name, 2
            while name in resolved:
                name, i = f"{a.name}-{i}", i + 1
            resolved[name] = a
    if not resolved:
        raise ValueError("attacks must name at least one attack")
    for name, a in resolved.items():
        if not isinstance(a, Attack):
            raise TypeError(f"attacks[{name!r}] must be an Attack; got {type(a).__name__}")
        if name in ("natural", "worst"):
            raise ValueError(f"attack name {name!r} is reserved for the report")
        if a.norm != norm:
            raise ValueError(f"attack {name!r} works in norm {a.norm!r} but the evaluation is in {norm!r}")
        if a.eps is None or a.eps > eps * (1 + 1e-9):
            raise ValueError(
                f"attack {name!r} has eps={a.eps!r}, outside the evaluation's ball eps={eps:g}; "
                "give it eps <= the evaluation's eps (for CW: the rejection threshold)"
            )
    return resolved, skipped


class _Evaluator:
    """Runs the attacks batch by batch and accumulates per-example accuracies."""

    def __init__(self, mixture, eps, norm, attacks, bounds, seed, check, suite=None, keep_adversarials=False,
                 skip_broken=False):
        from .._validation import check_choice

        self.skip_broken = check_bool("skip_broken", skip_broken)
        self.suite = None if suite is None else check_choice("suite", suite, SUITES)
        self.keep = check_bool("keep_adversarials", keep_adversarials)
        self.worst_x = []
        self.mix = as_mixture(mixture)
        self.eps = check_real("eps", eps, lo=0)
        self.norm = check_norm(norm, allowed=NORMS)
        self.bounds = check_bounds(bounds)
        self.seed = check_int("seed", seed, 0, allow_none=True)
        self.check = check_bool("check", check)
        self.attacks_arg = attacks
        self.attacks = None
        self.skipped = {}
        self.acc = {"natural": []}
        self.seconds = {}
        self.progress = None  # optional callable(name, examples done, seconds so far), after each attack's batch
        self.done = 0

    def _setup(self, x):
        with torch.no_grad():
            n_classes = self.mix.member_logits(x[:1], param_grad=False).shape[-1]
        if self.suite is None:
            attacks, self.skipped = _resolve(self.attacks_arg, self.eps, self.norm, self.bounds, n_classes)
        else:
            from .suites import suite_attacks

            n_members = int((self.mix.weights > 0).sum())
            attacks, self.skipped = suite_attacks(self.suite, self.eps, self.norm, self.bounds, n_classes=n_classes,
                                                  n_members=n_members)
            if not (isinstance(self.attacks_arg, str) and self.attacks_arg == "all"):
                extra, skipped = _resolve(self.attacks_arg, self.eps, self.norm, self.bounds, n_classes)
                for name in extra:
                    if name in attacks:
                        raise ValueError(f"attack {name!r} is already in suite {self.suite!r}; give yours another name")
                attacks.update(extra)
                self.skipped.update(skipped)
        device = self.mix.weights.device
        self.attacks = {}
        self.settings = {}
        for i, (name, a) in enumerate(attacks.items()):
            self.settings[name] = repr(a) if self.seed is None else f"{a!r}; evaluate() reseeds it with {self.seed + i}"
            a = a.bind(self.mix)
            if self.seed is not None:
                a.seed = make_generator(self.seed + i, device)
            self.attacks[name] = a
            self.acc[name] = []
            self.seconds[name] = 0.0

    def batch(self, x, y):
        # every member is scored in eval mode (BatchNorm with running statistics, no
        # dropout), each module's own flag restored afterwards, also on errors
        with eval_mode(self.mix):
            self._batch(x, y)

    def _batch(self, x, y):
        device = self.mix.weights.device
        check_tensor(x, "x", floating=True)
        x = x.to(device)
        y = check_labels(y, x, self.mix.num_classes(x))
        if self.attacks is None:
            self._setup(x)
        natural = self.mix.expected_accuracy(x, y, reduction="none")
        self.acc["natural"].append(natural.cpu())
        worst_acc, worst_x = natural, x
        for name, attack in self.attacks.items():
            if self.skip_broken:
                x_adv, acc = self._attack_unbroken(name, attack, x, y, worst_acc)
            else:
                t0 = time.perf_counter()
                x_adv = attack(x, y)
                if device.type == "cuda":
                    torch.cuda.synchronize(device)
                self.seconds[name] += time.perf_counter() - t0
                if self.check:
                    self._check_threat_model(name, attack, x, x_adv)
                acc = self.mix.expected_accuracy(x_adv, y, reduction="none")
            self.acc[name].append(acc.cpu())
            if self.keep:
                lower = acc < worst_acc
                worst_x = torch.where(lower.reshape((-1,) + (1,) * (x.ndim - 1)), x_adv.to(x.dtype), worst_x)
            worst_acc = torch.minimum(acc, worst_acc)
            if self.progress is not None:
                self.progress(name, self.done + x.shape[0], self.seconds[name])
        self.done += x.shape[0]
        if self.keep:
            self.worst_x.append(worst_x.detach().cpu())

    def _attack_unbroken(self, name, attack, x, y, worst_acc):
        """``skip_broken``: run ``attack`` on the examples whose worst case so far is above 0
        only; the others (every member already wrong) count 0 and keep their point."""
        device = self.mix.weights.device
        idx = torch.nonzero(worst_acc > 0).flatten()
        acc = torch.zeros_like(worst_acc)
        x_adv = x
        if idx.numel():
            xs, ys = x[idx], y[idx]
            t0 = time.perf_counter()
            xs_adv = attack(xs, ys)
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            self.seconds[name] += time.perf_counter() - t0
            if self.check:
                self._check_threat_model(name, attack, xs, xs_adv)
            acc[idx] = self.mix.expected_accuracy(xs_adv, ys, reduction="none").to(acc.dtype)
            x_adv = x.clone()
            x_adv[idx] = xs_adv.to(x.dtype)
        return x_adv, acc

    def _check_threat_model(self, name, attack, x, x_adv):
        lo, hi = self.bounds
        tol = 1e-5 * max(1.0, self.eps) + (1e-6 if x.dtype == torch.float64 else 1e-5)
        d = float(lp_norm(x_adv - x, self.norm).max())
        if d > self.eps + tol or float(x_adv.min()) < lo - tol or float(x_adv.max()) > hi + tol:
            raise RuntimeError(
                f"attack {name!r} returned points outside the threat model: max {self.norm} distance {d:.6g} "
                f"(eps={self.eps:g}), range [{float(x_adv.min()):.6g}, {float(x_adv.max()):.6g}] "
                f"(bounds={self.bounds})"
            )

    def report(self):
        if self.attacks is None:
            raise ValueError("no data: the inputs (or the loader) held no examples")
        per = {k: torch.cat(v) for k, v in self.acc.items()}
        worst = torch.stack(list(per.values())).amin(0)
        per["worst"] = worst
        values = {k: float(v.mean()) for k, v in per.items()}
        return EvaluationReport(values, per, dict(self.seconds), self.eps, self.norm, int(worst.numel()), self.skipped,
                                settings=self.settings, suite=self.suite,
                                adversarials=torch.cat(self.worst_x) if self.keep else None)


def evaluate(mixture, x, y, eps, norm="linf", attacks="all", *, batch_size=None, bounds=(0.0, 1.0), seed=0, check=True,
             suite=None, checks=None, keep_adversarials=False, progress=None, skip_broken=False):
    r"""Robust accuracy of a mixture under every attack, and the per-example worst case.

    Parameters
    ----------
    mixture : Mixture or nn.Module
        The defense (a plain module is a one-member mixture).
    x : torch.Tensor, shape (N, ...)
        Clean inputs in ``bounds`` (moved batch by batch to the mixture's device).
    y : torch.Tensor of int, shape (N,)
        Class labels in ``[0, C)``.
    eps : float
        Radius of the threat model's ball (for C&W: the rejection threshold).
    norm : {"linf", "l2"}
        Also accepted: ``inf`` and ``2``.
    attacks : "all", list of names, dict or list of attacks, or one attack
        ``"all"``: :data:`ATTACK_NAMES` ``[norm]`` with :func:`default_attacks`
        settings (``apgd-dlr`` is skipped, and said so, for fewer than 3 classes);
        names may also be ``apgd-t``, ``square``, ``margin-subsets``,
        ``multi-targeted`` and ``transfer``.  An attack is an :class:`Attack` (an
        unbound template is bound to ``mixture``; its ``eps`` must not exceed ``eps``
        and its norm must be ``norm``), a torchattacks attack taken as it is
        (re-aimed at the mixture, see :class:`advgame.torch.attacks.TorchattacksAttack`),
        or any callable ``(x, y) -> x_adv`` (:class:`advgame.torch.attacks.FunctionAttack`).
        With ``suite``, attacks given here are added to the suite's.
    batch_size : int, optional
        Examples per attack call (default: all at once).
    bounds : (float, float)
        The valid input box.
    seed : int or None
        Attack ``i`` (in order) draws its random starts from a generator seeded
        with ``seed + i``, advancing across batches.  None keeps each attack's own
        ``seed``.
    check : bool
        Verify that every attack's output lies in the ball and the box (raise
        ``RuntimeError`` otherwise).
    suite : {"quick", "standard", "full"}, optional
        Run a named suite (:mod:`advgame.torch.suites`) instead of ``attacks="all"``.
    checks : bool, optional
        Run the sanity checks (:func:`advgame.torch.checks.sanity_checks`) after the
        attacks; each failed check is a flag in ``report.checks`` and a
        :class:`~advgame.torch.checks.EvaluationWarning`.  Default: on for
        ``suite="full"``, off otherwise.
    keep_adversarials : bool
        Keep, per example, the worst-case input in ``report.adversarials``.
    progress : callable, optional
        Called after each attack's batch as ``progress(name, done, seconds)``: the
        attack's name, the examples it has attacked so far, its seconds so far
        (``advgame eval`` prints a line per call).
    skip_broken : bool
        Run each attack only on the examples whose worst case so far is above 0 (as
        AutoAttack attacks only the points still robust): an example every member already
        misclassifies cannot get worse, so ``"worst"`` and ``per_example["worst"]`` are
        the same quantity, for a fraction of the time where most points break early.  An
        attack's row then counts the examples broken before it as 0 (a lower bound of its
        own accuracy; the first attack's row is exact).  Off by default; ``advgame study``
        turns it on.

    Returns
    -------
    EvaluationReport
        A dict ``{"natural": ..., <attack>: ..., "worst": ...}`` of exact expected
        accuracies in [0, 1]; ``.per_example`` holds the ``(N,)`` vectors,
        ``print(report)`` shows a table.

    Raises
    ------
    ValueError
        A label lies outside ``[0, C)``, an argument is out of range, or (with
        ``check``) an attack left the threat model.
    TypeError
        ``x`` is not a floating tensor, or an argument has the wrong type.

    Notes
    -----
    Every member is scored in eval mode (:func:`advgame.torch.eval_mode`: BatchNorm
    with its running statistics, no dropout), and each module's own ``training`` flag
    is restored afterwards, also when an error is raised; so a seeded evaluation gives
    the same report whatever mode the mixture was left in.

    References
    ----------
    RM20, Sec. 6 and supplement Sec. 2.2-2.3 (adaptive attacks, exact expectation);
    MNE21, Sec. 5.2 (APGD-CE/DLR, 100 steps, 5 restarts); Dbouk & Shanbhag, ICML
    2022 (ARC; why the worst case over attacks must be reported).
    """
    check_tensor(x, "x", floating=True)
    y = check_labels(y, x)
    if x.shape[0] == 0:
        raise ValueError("x must hold at least one example")
    bs = x.shape[0] if batch_size is None else check_int("batch_size", batch_size, 1)
    ev = _Evaluator(mixture, eps, norm, attacks, bounds, seed, check, suite, keep_adversarials, skip_broken)
    if progress is not None and not callable(progress):
        raise TypeError(f"progress must be callable as progress(name, done, seconds); got {type(progress).__name__}")
    ev.progress = progress
    for i in range(0, x.shape[0], bs):
        ev.batch(x[i : i + bs], y[i : i + bs])
    return _with_checks(ev, ev.report(), x, y, checks, bs)


def _with_checks(ev, report, x, y, checks, batch_size):
    if checks is None:
        checks = ev.suite == "full"
    if not check_bool("checks", checks):
        return report
    from .checks import sanity_checks

    report.checks = sanity_checks(ev.mix, x, y, report, ev.attacks, bounds=ev.bounds, seed=ev.seed,
                                  batch_size=batch_size)
    return report


def evaluate_loader(mixture, loader, eps, norm="linf", attacks="all", *, bounds=(0.0, 1.0), seed=0, check=True, max_batches=None,
                    suite=None, checks=None, keep_adversarials=False):
    """:func:`evaluate` over an iterable of ``(x, y)`` batches (e.g. a ``DataLoader``).

    Same parameters and result as :func:`evaluate`; the per-example vectors are
    concatenated in the loader's order.  ``max_batches`` stops after that many
    batches.  With the same seed, ``evaluate(x, y, batch_size=b)`` and
    ``evaluate_loader`` over the same batches of ``b`` give identical reports.  The
    sanity checks (``checks``) run on the first batch.
    """
    ev = _Evaluator(mixture, eps, norm, attacks, bounds, seed, check, suite, keep_adversarials)
    first = None
    if max_batches is not None:
        max_batches = check_int("max_batches", max_batches, 1)
    for i, batch in enumerate(loader):
        if max_batches is not None and i >= max_batches:
            break
        try:
            xb, yb = batch[0], batch[1]
        except (TypeError, IndexError, KeyError):
            raise TypeError(f"loader must yield (x, y) pairs; got {type(batch).__name__}") from None
        ev.batch(xb, yb)
        if first is None:
            first = (xb, yb)
    report = ev.report()
    return report if first is None else _with_checks(ev, report, first[0], first[1], checks, None)

