"""Evaluating the members of a mixture: a plain loop, or one ``torch.vmap``-ed call.

Members with the same architecture can be evaluated together: their parameters are
stacked (:func:`torch.func.stack_module_state`) and one ``vmap``-ed functional call
gives all ``L`` outputs.  :class:`MemberLogits` decides between that and a loop
(``vectorize="auto"``: vmap when the members share an architecture, are all in eval
mode, and the first call shows vmap both correct -- equal to the loop -- and faster),
caches the stacked parameters, and rebuilds the cache whenever a member's parameter
or buffer changes.  See ``benchmarks/bench_torch_attacks.py`` for when vmap is faster.
"""

from __future__ import annotations

import time
import warnings

import torch

__all__ = ["MemberLogits", "VECTORIZE", "same_architecture", "logits_close", "best_time"]

#: accepted values of ``Mixture(..., vectorize=)``
VECTORIZE = ("auto", True, False)


def same_architecture(models) -> bool:
    """True when every member has the first member's type, parameters and buffers
    (names, shapes, dtypes, devices) and there is something to stack."""

    def signature(m):
        return (
            type(m),
            tuple((n, tuple(p.shape), p.dtype, p.device) for n, p in m.named_parameters()),
            tuple((n, tuple(b.shape), b.dtype, b.device) for n, b in m.named_buffers()),
        )

    sig = signature(models[0])
    if not sig[1]:  # nothing to stack: a loop is as good
        return False
    return all(signature(m) == sig for m in models[1:])


def best_time(fn, device, repeats=2) -> float:
    """Best wall time of ``repeats`` calls of ``fn`` (synchronizing a CUDA device)."""
    best = float("inf")
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        t0 = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        best = min(best, time.perf_counter() - t0)
    return best


def logits_close(a, b) -> bool:
    """Whether two logit tensors agree up to the rounding of their dtype, or of the
    autocast dtype they were computed in (bf16 keeps 8 bits of mantissa, fp16 11)."""
    if a.shape != b.shape:
        return False
    if a.numel() == 0:
        return True
    rel = 1e-4 if a.dtype in (torch.float16, torch.bfloat16, torch.float32) else 1e-9
    kind = a.device.type
    if torch.is_autocast_enabled(kind):
        rel = max(rel, 3e-2 if torch.get_autocast_dtype(kind) == torch.bfloat16 else 5e-3)
    scale = 1.0 + float(b.abs().max())
    return float((a - b).abs().max()) <= rel * scale


def loop_logits(members, x):
    """``(L, B, C)`` logits by calling each member in turn (shapes checked)."""
    outs = []
    for k, m in enumerate(members):
        z = m(x)
        if not isinstance(z, torch.Tensor) or z.ndim != 2 or z.shape[0] != x.shape[0]:
            shape = tuple(z.shape) if isinstance(z, torch.Tensor) else type(z).__name__
            raise ValueError(
                f"member {k} must return logits of shape (B, C) = ({x.shape[0]}, C) for an input "
                f"batch of {x.shape[0]}; got {shape}"
            )
        outs.append(z)
    try:
        return torch.stack(outs)
    except RuntimeError:
        raise ValueError(
            f"members must all return the same number of classes; got {[tuple(o.shape) for o in outs]}"
        ) from None


class MemberLogits:
    """The strategy and caches behind :meth:`advgame.torch.Mixture.member_logits`.

    Parameters
    ----------
    members : sequence of nn.Module
        Used once, to decide whether they share an architecture.
    vectorize : {"auto", True, False}
        See :class:`advgame.torch.Mixture`.

    Attributes
    ----------
    timing : dict or None
        In ``"auto"`` mode, after the first eval-mode call: the measured seconds of one
        forward by loop (``"loop_s"``) and by vmap (``"vmap_s"``).
    """

    def __init__(self, members, vectorize="auto"):
        self.vectorize = vectorize
        self.same_arch = same_architecture(list(members))
        self.checked = vectorize is True
        self.ok = True
        self.timing = None
        self._stack_key = None
        self._stack = None

    def uses_vmap(self, members) -> bool:
        """Whether the next call evaluates ``members`` with vmap."""
        if self.vectorize is False or not self.ok:
            return False
        if any(mod.training for member in members for mod in member.modules()):
            return False
        if self.vectorize is True:
            return True
        return self.same_arch

    def _stacked(self, members, differentiable):
        if differentiable:
            pdicts = [dict(m.named_parameters()) for m in members]
            bdicts = [dict(m.named_buffers()) for m in members]
            params = {n: torch.stack([d[n] for d in pdicts]) for n in pdicts[0]}
            buffers = {n: torch.stack([d[n] for d in bdicts]) for n in bdicts[0]}
            return params, buffers
        tensors = [t for m in members for t in (*m.parameters(), *m.buffers())]
        key = tuple((t.data_ptr(), t._version, t.device, t.dtype) for t in tensors)
        if key != self._stack_key:
            with torch.no_grad():
                params, buffers = torch.func.stack_module_state(members)
                params = {n: p.detach() for n, p in params.items()}
            self._stack = (params, buffers)
            self._stack_key = key
        return self._stack

    def vmap_logits(self, members, x, differentiable):
        """``(L, B, C)`` logits from one vmapped functional call of the first member."""
        params, buffers = self._stacked(members, differentiable)
        base = members[0]

        def call(p, b, inp):
            return torch.func.functional_call(base, (p, b), (inp,))

        z = torch.vmap(call, in_dims=(0, 0, None), randomness="different")(params, buffers, x)
        if z.ndim != 3 or z.shape[1] != x.shape[0]:
            raise ValueError(f"members must return logits of shape (B, C); the stacked call returned {tuple(z.shape)}")
        return z

    def __call__(self, members, x, param_grad):
        """``(L, B, C)`` logits of ``members`` on ``x`` (see ``Mixture.member_logits``)."""
        members = list(members)
        if not self.uses_vmap(members):
            return loop_logits(members, x)
        if param_grad is None:
            param_grad = torch.is_grad_enabled() and any(p.requires_grad for m in members for p in m.parameters())
        if self.checked:
            return self.vmap_logits(members, x, param_grad)
        # first vectorized call in "auto" mode: check vmap against the loop, and time both
        self.checked = True
        try:
            with torch.no_grad():
                z_vmap = self.vmap_logits(members, x, False)
        except Exception as err:  # noqa: BLE001 - any vmap failure means: use the loop
            self.ok = False
            warnings.warn(
                f"Mixture: evaluating the members with torch.vmap failed ({type(err).__name__}: {err}); "
                "falling back to a loop over the members",
                UserWarning,
                stacklevel=3,
            )
            return loop_logits(members, x)
        with torch.no_grad():
            z_loop = loop_logits(members, x)
            same = logits_close(z_vmap, z_loop)
            if same:
                t_loop = best_time(lambda: loop_logits(members, x), x.device)
                t_vmap = best_time(lambda: self.vmap_logits(members, x, False), x.device)
                self.timing = {"loop_s": t_loop, "vmap_s": t_vmap}
        if not same:
            self.ok = False
            warnings.warn(
                "Mixture: the members share an architecture but their vmapped outputs differ from a "
                "plain loop (the members hold state outside their parameters and buffers); "
                "falling back to a loop over the members",
                UserWarning,
                stacklevel=3,
            )
        elif t_vmap > t_loop:
            self.ok = False
        return self(members, x, param_grad)
