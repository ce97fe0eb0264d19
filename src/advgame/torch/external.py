r"""Mixtures of members that advgame did not train: files, architectures, factories, weights.

``advgame eval --members a.pt,b.pt --arch small-mlp --dataset digits --eps 0.2`` builds
the mixture from

* **state dicts** (``torch.save(model.state_dict(), path)``), loaded with
  ``torch.load(weights_only=True)`` (never unpickled) into the architecture named by
  ``arch`` (:func:`advgame.torch.build_model`) or built by a ``factory``;
* **TorchScript** archives (``torch.jit.save``), loaded with ``torch.jit.load``;
* a Python **factory** ``"module:function"``: called without arguments, it returns the
  architecture to load each state dict into, or -- without member files -- the
  members themselves (a module or a list of modules, weights included).

The weights are given (``"0.3,0.7"``), uniform by default, or solved (``"lp"``): the
exact LP of the candidate game of the validation split (clean point and PGD against
each member and the uniform mixture, :func:`advgame.torch.candidate_losses`).
"""

from __future__ import annotations

import importlib
import os
import warnings
import zipfile

import torch
from torch import nn

from .._validation import check_real
from .mixture import Mixture

__all__ = ["load_member", "resolve_factory", "parse_weights", "external_mixture", "lp_mixture_weights"]


def resolve_factory(spec):
    """The callable named by ``"module:function"`` (e.g. ``"torchvision.models:resnet18"``).

    Raises
    ------
    ValueError
        When ``spec`` is not of that form or the module or attribute is missing.
    """
    if not isinstance(spec, str) or spec.count(":") != 1:
        raise ValueError(f"factory must be 'module:function'; got {spec!r}")
    mod, fn = spec.split(":")
    try:
        obj = getattr(importlib.import_module(mod), fn)
    except (ImportError, AttributeError) as err:
        raise ValueError(f"factory {spec!r} not found: {err}") from None
    if not callable(obj):
        raise ValueError(f"factory {spec!r} is not callable")
    return obj


def _is_torchscript(path):
    try:
        with zipfile.ZipFile(path) as z:
            return any(n.split("/", 1)[-1].startswith("code/") for n in z.namelist())
    except zipfile.BadZipFile:
        return False


def load_member(path, *, arch=None, factory=None, num_classes=None, input_shape=None, device="cpu"):
    """One member from a state-dict or TorchScript file, in eval mode.

    Parameters
    ----------
    path : str or path
    arch : str, optional
        A :func:`advgame.torch.build_model` name, for state dicts.
    factory : callable, optional
        Returns the module to load a state dict into (instead of ``arch``).
    num_classes : int, optional
    input_shape : tuple of int, optional
        For ``arch``.
    device : str or torch.device

    Returns
    -------
    nn.Module
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ValueError(f"member file {path!r} does not exist")
    if _is_torchscript(path):
        with warnings.catch_warnings():  # torch >= 2.9 deprecates TorchScript; the archives still load
            warnings.simplefilter("ignore", DeprecationWarning)
            return torch.jit.load(path, map_location=device).eval()
    try:
        state = torch.load(path, map_location=device, weights_only=True)
    except Exception as err:  # noqa: BLE001 - any failure to read is a bad file
        raise ValueError(f"{path!r} is neither a TorchScript archive nor a state dict readable with "
                         f"weights_only=True: {str(err).splitlines()[0]}") from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f"{path!r} must hold a state dict (str -> tensor); got {type(state).__name__}")
    if factory is not None:
        model = factory()
    elif arch is not None:
        from .models import build_model

        model = build_model(arch, num_classes, tuple(input_shape))
    else:
        raise ValueError(f"{path!r} is a state dict: give the architecture (--arch NAME or --factory module:function)")
    if not isinstance(model, nn.Module):
        raise TypeError(f"the factory must return an nn.Module; got {type(model).__name__}")
    try:
        model.load_state_dict(state)
    except RuntimeError as err:
        raise ValueError(f"{path!r} does not fit the architecture: {str(err).splitlines()[0]}") from None
    return model.to(device).eval()


def parse_weights(text, n):
    """``None``/"uniform" -> uniform, ``"lp"`` -> ``"lp"``, ``"0.3,0.7"`` -> a list of ``n`` weights."""
    if text is None or text == "uniform":
        return [1.0 / n] * n
    if text == "lp":
        return "lp"
    try:
        w = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ValueError(f"weights must be 'uniform', 'lp' or {n} comma-separated numbers; got {text!r}") from None
    if len(w) != n:
        raise ValueError(f"weights must have one entry per member ({n}); got {len(w)}")
    for v in w:
        check_real("weights", v, lo=0)
    if sum(w) <= 0:
        raise ValueError("weights must have a positive sum")
    return [v / sum(w) for v in w]


def lp_mixture_weights(members, x, y, eps, norm="linf", *, steps=20, seed=0, batch_size=512):
    r"""Optimal weights of fixed members on the candidate game of ``(x, y)``, by the exact LP.

    The candidates: the clean point and PGD (``steps``, step ``eps/4``, random start)
    against each member and against the uniform mixture; 0/1 losses
    (:func:`advgame.torch.candidate_losses`, ``advgame.solve(method="lp")``).

    Returns
    -------
    torch.Tensor, shape (L,)
        float64, on the CPU.
    """
    import advgame

    from .attacks import PGD
    from .candidates import candidate_losses

    attack = PGD(eps=eps, norm=norm, steps=steps, restarts=1)
    losses = candidate_losses(list(members), x, y, [attack], loss="01", batch_size=batch_size, seed=seed)
    res = advgame.solve(advgame.Game(losses.detach().cpu().double().numpy()), method="lp")
    return torch.as_tensor(res.weights, dtype=torch.float64)


def external_mixture(paths=(), *, arch=None, factory=None, weights=None, num_classes=None, input_shape=None,
                     device="cpu", val=None, eps=None, norm="linf", seed=0):
    """A :class:`Mixture` from member files and/or a factory (see the module docstring).

    Parameters
    ----------
    paths : sequence of path
    arch : str, optional
    factory : str ``"module:function"`` or callable, optional
    weights : str or None
        ``None``/``"uniform"``, ``"lp"`` or comma-separated numbers.
    num_classes, input_shape : optional
        For ``arch``.
    device : str or torch.device
    val : (x, y), optional
        Validation data, for ``weights="lp"``.
    eps : float, optional
        For ``weights="lp"``.
    norm : {"linf", "l2"}
    seed : int

    Returns
    -------
    mixture : Mixture
    weights : list of float
        The weights used (before dropping zero-weight members).
    """
    fac = resolve_factory(factory) if isinstance(factory, str) else factory
    if paths:
        members = [load_member(p, arch=arch, factory=fac, num_classes=num_classes, input_shape=input_shape,
                               device=device) for p in paths]
    elif fac is not None:
        made = fac()
        members = list(made) if isinstance(made, (list, tuple, nn.ModuleList)) else [made]
        if not all(isinstance(m, nn.Module) for m in members):
            raise TypeError("the factory must return an nn.Module or a list of them")
        members = [m.to(device).eval() for m in members]
    else:
        raise ValueError("give member files (--members) or a factory (--factory module:function)")
    w = parse_weights(weights, len(members))
    if w == "lp":
        if val is None or eps is None:
            raise ValueError("weights='lp' needs the validation data and eps")
        xv, yv = val
        w = [float(v) for v in lp_mixture_weights(members, xv.to(device), yv.to(device), eps, norm, seed=seed)]
    keep = [k for k in range(len(members)) if w[k] > 0]
    mix = Mixture([members[k] for k in keep], torch.tensor([w[k] for k in keep], dtype=torch.float32,
                                                            device=torch.device(device)))
    return mix, w
