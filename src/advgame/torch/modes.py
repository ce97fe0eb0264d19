"""Switching modules to eval mode for scoring, with every flag restored afterwards.

A mixture's members are *scored* (attacked, evaluated, turned into candidate games)
in eval mode everywhere: in train mode a BatchNorm layer normalizes by the statistics
of the batch at hand (and updates its running statistics as a side effect), and a
dropout layer draws a fresh mask on every call, so the same point gets a different
score on every call with the same seed.  :func:`eval_mode` puts the modules in eval
mode for the duration of a ``with`` block and then restores each submodule's own
``training`` flag -- also when the block raises -- so a model that was (partly) in
train mode comes back exactly as it was.
"""

from __future__ import annotations

from torch import nn

__all__ = ["eval_mode"]


class eval_mode:  # noqa: N801 - used like a function: ``with eval_mode(model):``
    """Context manager: every submodule of ``modules`` in eval mode, flags restored.

    Parameters
    ----------
    *modules : nn.Module or iterable of nn.Module
        The modules to switch (a :class:`advgame.torch.Mixture`, a member, a list
        of members, ...).  Every submodule's ``training`` flag is recorded on entry
        and written back on exit, one by one, so members (or layers) that were in
        different modes keep their own mode.

    Returns
    -------
    eval_mode
        Entering returns the modules as passed (one module when one was given).

    Raises
    ------
    TypeError
        An argument is neither an ``nn.Module`` nor an iterable of them.

    Notes
    -----
    Only the ``training`` flags are touched: ``requires_grad``, the parameters and
    the buffers are left as they are.  Module (not tensor) state is restored, so a
    BatchNorm layer's running statistics, which eval mode does not update, are
    unchanged by the block.

    Examples
    --------
    >>> from torch import nn
    >>> net = nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.5)).train()
    >>> with eval_mode(net):
    ...     net.training, net[1].training
    (False, False)
    >>> net.training, net[1].training
    (True, True)
    """

    def __init__(self, *modules):
        flat = []
        for i, m in enumerate(modules):
            if isinstance(m, nn.Module):
                flat.append(m)
                continue
            try:
                items = list(m)
            except TypeError:
                raise TypeError(f"eval_mode takes nn.Module objects; argument {i} is a {type(m).__name__}") from None
            for k, sub in enumerate(items):
                if not isinstance(sub, nn.Module):
                    raise TypeError(f"eval_mode takes nn.Module objects; argument {i}[{k}] is a {type(sub).__name__}")
            flat.extend(items)
        self._args = modules
        self._modules = flat
        self._saved = []  # a stack, so one object may be entered again while active

    def __enter__(self):
        self._saved.append([(m, m.training) for top in self._modules for m in top.modules()])
        for top in self._modules:
            top.eval()
        return self._args[0] if len(self._args) == 1 else self._args

    def __exit__(self, *exc):
        for m, flag in self._saved.pop():
            m.training = flag
        return False
