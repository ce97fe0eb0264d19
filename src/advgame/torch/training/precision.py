"""Mixed precision and the members' fast paths: autocast, loss scaling, ``channels_last``,
``torch.compile`` and ``cudnn.benchmark``.

Under a reduced precision the members' forward passes (the attack's steps and the SGD
steps) run under :func:`torch.autocast`; the members' logits are cast back to float32
(a forward hook), so the losses, the attack's objective, its input perturbation and
its projection onto the ball all stay in float32 (the inputs and the adversarial
points are float32 tensors; autocast only lowers the precision inside the
convolutions and matrix products).  ``fp16`` adds a :class:`torch.amp.GradScaler`.
"""

from __future__ import annotations

import contextlib

import torch

from ..._validation import check_choice

__all__ = ["PRECISIONS", "default_precision", "resolve_precision", "autocast", "grad_scaler", "prepare_member",
           "set_cudnn_benchmark", "setup_members"]

#: ``--precision`` choices: float32, bfloat16 autocast, float16 autocast with loss scaling
PRECISIONS = ("fp32", "bf16", "fp16")
_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def default_precision(device) -> str:
    """``"bf16"`` on a CUDA device that supports bfloat16, ``"fp32"`` everywhere else."""
    device = torch.device(device)
    if device.type == "cuda" and torch.cuda.is_available() and torch.cuda.is_bf16_supported():
        return "bf16"
    return "fp32"


def resolve_precision(precision, device) -> str:
    """``precision`` checked against :data:`PRECISIONS`; None gives :func:`default_precision`.

    Examples
    --------
    >>> resolve_precision(None, "cpu"), resolve_precision("bf16", "cpu")
    ('fp32', 'bf16')
    """
    if precision is None:
        return default_precision(device)
    return check_choice("precision", precision, PRECISIONS)


def autocast(precision, device):
    """A context manager: :func:`torch.autocast` to ``precision`` on ``device``'s type
    (a no-op for ``"fp32"``)."""
    precision = check_choice("precision", precision, PRECISIONS)
    if precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(torch.device(device).type, dtype=_DTYPES[precision])


def grad_scaler(precision, device):
    """A :class:`torch.amp.GradScaler` for ``"fp16"``, None otherwise."""
    precision = check_choice("precision", precision, PRECISIONS)
    if precision != "fp16":
        return None
    return torch.amp.GradScaler(torch.device(device).type)


def _float_logits(module, args, output):
    """Forward hook: floating outputs of reduced precision back to float32."""
    if isinstance(output, torch.Tensor) and output.is_floating_point() and output.dtype != torch.float32:
        return output.float()
    return None


def prepare_member(model, *, precision="fp32", channels_last=False, compile=False, compile_backend="inductor"):
    """Ready a member for fast training, in place; returns it.

    Parameters
    ----------
    model : nn.Module
    precision : {"fp32", "bf16", "fp16"}
        Under a reduced precision a forward hook casts the logits back to float32.
    channels_last : bool
        Store the 4-d parameters (convolution kernels) in ``torch.channels_last``
        (NHWC), the layout of the GPU's tensor-core convolutions.  The state dict's
        names and values are unchanged.
    compile : bool
        ``model.compile(backend=compile_backend)``: the module's forward is compiled in
        place (its state dict keeps its names, so checkpoints are unchanged).
    compile_backend : str
        The ``torch.compile`` backend (``"inductor"``; ``"eager"`` only traces, for tests).
    """
    precision = check_choice("precision", precision, PRECISIONS)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    if precision != "fp32":
        model.register_forward_hook(_float_logits)
    if compile:
        model.compile(backend=compile_backend)
    return model


def set_cudnn_benchmark(device) -> bool:
    """Turn on ``torch.backends.cudnn.benchmark`` for a CUDA device (the fastest
    convolution algorithm for the run's fixed shapes); returns whether it did."""
    if torch.device(device).type != "cuda":
        return False
    torch.backends.cudnn.benchmark = True
    return True


def setup_members(cfg, members, device):
    """The Trainer's set-up of ``cfg``'s ``precision``, ``channels_last`` (None: on CUDA)
    and ``compile`` for ``members`` (in place), and ``cudnn.benchmark`` on CUDA.

    Returns
    -------
    (str, GradScaler or None)
        The resolved precision and the fp16 loss scaler.
    """
    device = torch.device(device)
    precision = resolve_precision(cfg.precision, device)
    channels_last = device.type == "cuda" if cfg.channels_last is None else cfg.channels_last
    for m in members:
        prepare_member(m, precision=precision, channels_last=channels_last, compile=cfg.compile)
    set_cudnn_benchmark(device)
    return precision, grad_scaler(precision, device)
