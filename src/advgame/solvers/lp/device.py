r"""The exact solver on a torch game's device: only small arrays cross to the host.

A torch game (CPU or CUDA) used to be converted to numpy before the LP (``to_numpy``: a
copy of the whole ``(L, N, m)`` tensor to the host when it lives on an accelerator) and
its float64 certificate streamed the tensor to the host once more.  :class:`DeviceView`
is a view of the game for the LP driver whose evaluations run where the tensor is, with
torch operations, and return numpy arrays of ``N`` or ``R x L`` entries:

* **0/1 reduction** (:meth:`DeviceView.scan_binary`), block by block over samples (about
  ``block_entries`` losses each, so the scratch memory is bounded): the 0/1 check (every
  loss 0 or ``max_loss``), each attack's code :math:`\sum_k [\ell_{ijk} > 0]\, 2^k` (an
  int64, :math:`L \le 62`; above, the driver's constraint generation), masked attacks
  dropped, each sample's distinct codes with the first attack carrying each (a
  ``(sample, code)`` table of the block for :math:`2^L \le 4m`, else a sort of each
  sample's ``(code, attack)`` keys), and the dominance test among each sample's distinct
  codes (pairwise, as :func:`~advgame.solvers.lp.pruning.prune_codes`); only the kept
  ``(sample, code, attack)`` triples go to the host, where today's merging
  (:func:`~advgame.solvers.lp.pruning.merge_samples`) and HiGHS model
  (:func:`~advgame.solvers.lp.highs.solve_merged`) finish.
* **float64 passes** (:meth:`DeviceView.risk_and_best_response_float64`, the
  certificate): per block, :math:`\lambda^\top \ell` accumulated in float64 on the
  device classifier by classifier (a multiply-add each, converting on the fly: the order
  of the compiled host pass :func:`advgame._kernels.risk_br64`), each sample's max and
  first argmax; the ``(N,)`` results go to the host.
  The certificate stays independent of the reductions: it reads the user's tensor and
  the returned weights; the adversary's losses read only its support's rows.
* **stored-dtype passes** (:meth:`DeviceView.risk_and_best_response`): what constraint
  generation (``"cg"``) and aggregated cuts (``"cuts"``) search with on real-valued games;
  each round's best responses are computed on the device, and only their ``(N,)`` argmax
  and the ``(R, L)`` rows the LP needs (:meth:`DeviceView.rows`) go to the host.

So for a 0/1 game the tensor never crosses to the host (the mask, ``N x m`` booleans, is
read once for the count of valid rows); for a real-valued game each round moves ``O(N)``.
The results equal the host path's: the same codes, rows and LP, so the same weights, and
float64 passes rounded as the compiled host pass rounds them (on the CPU the same maxima
bit for bit, so constraint generation breaks ties alike and takes the same rounds); on
another device as a float64 multiply-add there rounds.  Aggregated cuts on float32 games
search with passes in the stored dtype, whose summation order torch and numpy choose
differently: their rounds may differ, their certificate is the same rule.

Which games use it (:func:`use_device_path`): torch games off the CPU; torch games on
the CPU stay on the host path (a zero-copy numpy view and the compiled kernels of
:mod:`advgame._kernels`, faster there: ``benchmarks/bench_lp_device.py``).
``ADVGAME_LP_DEVICE=1`` in the environment runs every torch game through this module
(CPU included: what the tests compare), ``ADVGAME_LP_DEVICE=0`` none (the host path for
every game); read at every solve.
"""

from __future__ import annotations

import os

import numpy as np

from .pruning import MAX_PACKED_BITS, _is_power_of_two

__all__ = ["DeviceView", "use_device_path", "device_view", "BLOCK_ENTRIES_CPU", "BLOCK_ENTRIES_DEVICE"]

#: Losses per block of samples on the CPU (where the path runs when forced): few blocks, since
#: each torch operation is a parallel region (measured at N = 10^4 under load: the 0/1 scan
#: 9-32 passes with 2^22, 11-48 with 2^20; ``benchmarks/bench_lp_device.py``).
BLOCK_ENTRIES_CPU = 1 << 22
#: Losses per block of samples on an accelerator (scratch of a few hundred MB: few launches).
BLOCK_ENTRIES_DEVICE = 1 << 25


def use_device_path(gview, solver="highs") -> bool:
    """True when ``solve_lp`` should run ``gview``'s game through :class:`DeviceView`.

    The HiGHS solver on a torch game off the CPU, unless ``ADVGAME_LP_DEVICE`` says
    otherwise (``1``/``on``: every torch game, CPU included; ``0``/``off``: none;
    ``auto`` or unset: the default; anything else is a ValueError).
    """
    if solver != "highs" or gview.nx.name != "torch":
        return False
    raw = os.environ.get("ADVGAME_LP_DEVICE", "")
    env = raw.strip().lower()
    if env in ("0", "false", "no", "off"):
        return False
    if env in ("1", "true", "yes", "on"):
        return True
    if env not in ("", "auto"):
        raise ValueError(f"ADVGAME_LP_DEVICE must be 1/on (every torch game on its device), 0/off (none) or "
                         f"auto/unset (torch games off the CPU); got {raw!r}")
    return gview.losses.device.type != "cpu"


def device_view(gview, solver="highs"):
    """The view ``solve_lp`` works on: a :class:`DeviceView` when :func:`use_device_path`,
    else the game's numpy view (``gview.to_numpy()``, today's host path)."""
    return DeviceView(gview) if use_device_path(gview, solver) else gview.to_numpy()


class DeviceView:
    """The LP driver's view of a torch game whose evaluations run on the game's device.

    It offers what :mod:`.driver`, :mod:`.highs` and :mod:`.cuts` read from a numpy
    :class:`~advgame.game.view.GameView` (shape, weights, mask, bounds, the passes, rows,
    the certificate), each returning numpy arrays; it has no ``losses`` (the tensor stays
    on the device: reading it is an ``AttributeError``, never a silent copy).

    Parameters
    ----------
    gview : GameView
        A torch game's view.
    block_entries : int, optional
        Losses per block of samples of the scans (default :data:`BLOCK_ENTRIES_CPU` on the
        CPU, :data:`BLOCK_ENTRIES_DEVICE` elsewhere).
    """

    def __init__(self, gview, block_entries=None):
        from ...backend import get_backend

        if gview.nx.name != "torch":
            raise TypeError(f"DeviceView needs a torch game's view; got a {gview.nx.name} game")
        import torch

        self._torch = torch
        self._g = gview
        self._F = gview.losses
        self.device = self._F.device
        if block_entries is None:
            block_entries = BLOCK_ENTRIES_CPU if self.device.type == "cpu" else BLOCK_ENTRIES_DEVICE
        self.block_entries = int(block_entries)
        if self.block_entries < 1:
            raise ValueError(f"block_entries must be a positive int; got {block_entries}")
        self.nx = get_backend(np.zeros(0))  # what this view's evaluations return
        self._mask_np = None

    # data (what the numpy view gives, without the tensor)
    shape = property(lambda self: self._g.shape)
    max_loss = property(lambda self: self._g.max_loss)
    bound = property(lambda self: self._g.bound)
    sample_weights_float64 = property(lambda self: self._g.sample_weights_float64)
    binary_known = property(lambda self: self._g.binary_known)
    is_binary = property(lambda self: self._g.is_binary)
    game = property(lambda self: self._g.game)

    @property
    def dtype(self):
        """The stored dtype as a numpy dtype (``float32`` or ``float64``)."""
        return np.dtype(str(self._F.dtype).replace("torch.", ""))

    @property
    def mask_numpy(self):
        """The ``(N, m)`` mask on the host (copied once), or None."""
        if self._mask_np is None and self._g.mask is not None:
            self._mask_np = self._g.mask_numpy
        return self._mask_np

    @property
    def losses(self):
        raise AttributeError("DeviceView keeps the loss tensor on its device; use its evaluations "
                             "(or GameView.to_numpy() for a host copy)")

    def _blocks(self):
        L, N, m = (int(s) for s in self._F.shape)
        step = max(1, min(N, self.block_entries // max(1, L * m)))
        return [(a, min(N, a + step)) for a in range(0, N, step)]

    # evaluations
    def check_weights(self, weights, name="weights"):
        """As :meth:`GameView.check_weights`: a tensor in the game's dtype on its device."""
        return self._g.check_weights(weights, name)

    def risk_and_best_response(self, weights):
        """``(R, per-sample max (N,), argmax (N,))`` in the stored dtype on the device
        (one matrix-vector product, as :meth:`advgame.Game.risk`); numpy results."""
        t = self._torch
        lam = weights if isinstance(weights, t.Tensor) else self._g.check_weights(weights)
        R, mx, jstar = self._g.risk_and_best_response(lam)
        return float(R), mx.detach().cpu().numpy(), jstar.detach().cpu().numpy().astype(np.int64, copy=False)

    def risk_and_best_response_float64(self, weights, argmax=True):
        """``(R, per-sample max (N,), argmax (N,) or None)`` in float64: each block of samples
        converted to float64 on the device, its scores, their max and first argmax; only the
        ``(N,)`` results cross to the host.  ``R`` is summed on the host in float64 with the
        normalized sample weights, as the host path does."""
        t = self._torch
        F = self._F
        L, N, m = (int(s) for s in F.shape)
        lam = [float(v) for v in np.asarray(weights, dtype=np.float64).reshape(-1)]  # host scalars: no sync
        neg = self._g.neg
        mx = t.empty(N, dtype=t.float64, device=self.device)
        jstar = t.empty(N, dtype=t.int64, device=self.device) if argmax else None
        for a, b in self._blocks():
            # classifier by classifier, a multiply-add each (converted on the fly, no float64
            # copy of the block): the compiled host pass's order and rounding
            s = F[0, a:b].to(t.float64) * lam[0]
            for k in range(1, L):
                s.add_(F[k, a:b], alpha=lam[k])
            if neg is not None:
                s += neg[a:b]
            if argmax:
                mx[a:b], jstar[a:b] = t.max(s, dim=1)  # the first maximum on ties, as numpy's argmax
            else:
                mx[a:b] = t.amax(s, dim=1)
        mx_h = mx.cpu().numpy()
        return (float(self._g.sample_weights_float64 @ mx_h), mx_h,
                None if jstar is None else jstar.cpu().numpy())

    def rows(self, samples, attacks):
        """``(R, L)`` float64 numpy rows ``losses[samples[r], attacks[r], :]`` (gathered on the
        device: only these rows cross)."""
        t = self._torch
        i = t.as_tensor(np.asarray(samples, dtype=np.int64), device=self.device)
        j = t.as_tensor(np.asarray(attacks, dtype=np.int64), device=self.device)
        return np.ascontiguousarray(self._F[:, i, j].to(t.float64).T.cpu().numpy())

    def classifier_losses_float64(self, adversary, support=None):
        """As :meth:`GameView.classifier_losses_float64`: the ``(L,)`` float64 losses of an
        adversary (a :class:`~advgame.adversary.SparseAdversary` or an ``(N, m)`` array),
        from the rows of its support only."""
        w64 = self._g.sample_weights_float64
        if hasattr(adversary, "probabilities"):  # a SparseAdversary: its own support
            i, j = adversary.samples, adversary.attacks
            return (adversary.probabilities * w64[i]) @ self.rows(i, j)
        Q = np.asarray(adversary, dtype=np.float64)
        m = Q.shape[1]
        flat = np.flatnonzero(Q) if support is None else np.unique(np.asarray(support, dtype=np.int64))
        ii, jj = flat // m, flat % m
        return (Q.reshape(-1)[flat] * w64[ii]) @ self.rows(ii, jj)

    def certificate(self, weights, adversary, support=None):
        """``(value, adversary_losses)`` as :meth:`GameView.certificate`, the float64 pass
        on the device."""
        value = self.risk_and_best_response_float64(weights, argmax=False)[0]
        return value, self.classifier_losses_float64(adversary, support)

    # the 0/1 reduction
    def _codes(self, X, hi):
        """Exact int64 codes ``(c, m)`` of a 0/1 block ``X`` ``(L, c, m)``, as
        :func:`~advgame.solvers.lp.pruning.pack_codes` computes them: one matrix-vector
        product with the weights :math:`2^k / M` (``M`` a power of two) or :math:`2^k` on the
        0/1 indicator, whose partial sums are integers below :math:`2^{24}` (float32,
        ``L <= 24``) or :math:`2^{53}` (float64, ``L <= 53``): exact in any summation order,
        and also with TF32 matrix products (powers of two and 0/1 are exact in TF32, and
        the sums are float32); past 53 classifiers, bitwise ors."""
        t = self._torch
        L, c, m = (int(s) for s in X.shape)
        flat = X.reshape(L, c * m)  # each classifier's (c, m) slab is contiguous: a view
        if L <= 53:
            wdt = t.float32 if L <= 24 else t.float64
            k = t.arange(L, device=self.device)
            if _is_power_of_two(hi) and (X.dtype == t.float64 or X.dtype == wdt):
                coef = t.ldexp(t.full((L,), 1.0 / hi, dtype=X.dtype, device=self.device), k)
                return (coef @ flat).to(t.int64).view(c, m)
            coef = t.ldexp(t.ones(L, dtype=wdt, device=self.device), k)
            return (coef @ (flat != 0).to(wdt)).to(t.int64).view(c, m)
        codes = (X[0] != 0).to(t.int64)
        for k in range(1, L):
            codes |= (X[k] != 0).to(t.int64) << k
        return codes

    def _distinct(self, codes, valid, a):
        """Distinct ``(sample, code)`` pairs of a block of ``(c, m)`` codes starting at sample
        ``a`` (``valid`` its mask rows or None), with the first valid attack carrying each:
        ``(3, R)`` int64 tensor of samples, codes, attacks, sorted by sample then code."""
        t = self._torch
        L = int(self._F.shape[0])
        c, m = (int(s) for s in codes.shape)
        jb = max(1, (m - 1).bit_length())
        if (1 << L) <= 4 * m:  # a (sample, code) table of the block: the least attack of each
            key = (t.arange(c, device=self.device)[:, None] << L) | codes
            if valid is not None:
                key = key.masked_fill(~valid, c << L)  # one spare slot for masked attacks
            table = t.full(((c << L) + 1,), m, dtype=t.int64, device=self.device)
            att = t.arange(m, device=self.device).expand(c, m)
            table.scatter_reduce_(0, key.reshape(-1), att.reshape(-1), reduce="amin")
            ukey = (table[:-1] < m).nonzero().view(-1)
            return t.stack([(ukey >> L) + a, ukey & ((1 << L) - 1), table[ukey]])
        if L + jb <= 62:  # sort (code, attack) keys within each sample: distinct keys, any sort
            key = (codes << jb) | t.arange(m, device=self.device)
            if valid is not None:
                key = key.masked_fill(~valid, -1)  # sorted first, then dropped
            srt = t.sort(key, dim=1).values
            cd, att = srt >> jb, srt & ((1 << jb) - 1)
        else:  # a stable sort of the codes: the first attack of each code first
            if valid is not None:
                codes = codes.masked_fill(~valid, -1)
            cd, att = t.sort(codes, dim=1, stable=True)
        new = cd >= 0
        new[:, 1:] &= cd[:, 1:] != cd[:, :-1]
        r, q = new.nonzero(as_tuple=True)
        return t.stack([r + a, cd[r, q], att[r, q]])

    def distinct_codes(self, undominated=False):
        r"""Each sample's distinct 0/1 codes, computed on the device block by block.

        Per block of samples: the 0/1 check, the codes (:meth:`_codes`), and the distinct
        ``(sample, code)`` pairs with the first valid attack of each (a ``(sample, code)``
        table of the block when :math:`2^L \le 4m`, else a sort of each sample's
        ``(code, attack)`` keys); only those pairs cross to the host.

        Parameters
        ----------
        undominated : bool
            Keep only the codes with no strict superset in their sample
            (:meth:`_undominated`, in the same block).

        Returns
        -------
        (samples, codes, attacks) int64 numpy arrays sorted by sample then code (the first
        valid attack carrying each code), what :func:`~advgame.solvers.lp.pruning.binary_rows`
        returns (with ``undominated``: what :func:`~advgame.solvers.lp.pruning.prune_codes`
        keeps of it); or None when some valid loss is neither 0 nor ``max_loss`` (the scan stops
        at the first such block).
        """
        t = self._torch
        F = self._F
        L = int(F.shape[0])
        if L > MAX_PACKED_BITS:
            raise ValueError(f"bit-packing needs at most {MAX_PACKED_BITS} classifiers; got L={L}")
        hi = float(self.max_loss)
        mask = self._g.mask
        parts = []
        for a, b in self._blocks():
            X = F[:, a:b]
            if hi != 0 and bool(((X != 0) & (X != hi)).any()):  # masked entries hold 0: only valid ones fail
                return None
            codes = self._codes(X, hi) if hi != 0 else t.zeros(X.shape[1:], dtype=t.int64, device=self.device)
            trip = self._distinct(codes, None if mask is None else mask[a:b], a)
            parts.append(self._undominated(trip, a, b - a) if undominated else trip)
        out = t.cat(parts, dim=1).cpu().numpy()
        return out[0].copy(), out[1].copy(), out[2].copy()

    def _undominated(self, trip, a, c):
        """The triples of ``trip`` (a block's distinct pairs, sorted by sample then code) whose
        code has no strict superset among its sample's codes: the pairwise test of
        :func:`~advgame.solvers.lp.pruning.prune_codes` on a ``(c, S)`` padding of each
        sample's codes, in chunks of samples of about ``block_entries`` tests."""
        t = self._torch
        r = trip[0] - a
        counts = t.bincount(r, minlength=c)
        S = int(counts.max())
        if S <= 1:
            return trip
        starts = t.cumsum(counts, 0) - counts
        pos = t.arange(r.numel(), device=self.device) - starts[r]
        P = t.full((c, S), -1, dtype=t.int64, device=self.device)
        P[r, pos] = trip[1]
        dominated = t.zeros((c, S), dtype=t.bool, device=self.device)
        step = max(1, (self.block_entries // 4) // (S * S))  # int64 temporaries
        for u in range(0, c, step):
            A = P[u : u + step, :, None]
            B = P[u : u + step, None, :]
            dominated[u : u + step] = (((A & ~B) == 0) & (A != B) & (B >= 0)).any(dim=2)
        return trip[:, ~dominated[r, pos]]

    def scan_binary(self):
        """What :func:`~advgame.solvers.lp.pruning.scan_binary` returns: each sample's
        undominated distinct codes ``(samples, codes, attacks)`` as int64 numpy arrays sorted
        by sample then code, or None for a game that is not 0/1.  Per block of samples on the
        device: the distinct codes (:meth:`distinct_codes`), then the dominance test among
        each sample's distinct codes; only the kept triples cross to the host."""
        out = self.distinct_codes(undominated=True)
        return out
