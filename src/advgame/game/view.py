"""The solver contract: :class:`GameView`, what a solver may read from a game."""

from __future__ import annotations

import numpy as np

__all__ = ["GameView"]


class GameView:
    r"""What a solver may read from a :class:`~advgame.Game`: the solver contract.

    Solvers (``advgame.solvers``, ``advgame.torch.MixtureSolver``) use this view and
    nothing else of a game; it exposes the working data read-only and the few
    evaluations every solver needs.  Arrays are the game's own (no copy): never write
    into them.

    Attributes
    ----------
    nx : backend
        The array library's backend (:func:`advgame.backend.get_backend`).
    losses : array (L, N, m)
        The working tensor in the compute dtype; masked entries hold 0.
    sample_weights : array (N,)
        Normalized sample weights :math:`w` (sum to one), compute dtype.
    sample_weights_float64 : numpy array (N,)
        The same in float64 numpy (certificates, LP costs).
    weight_total : float
        The total of the relative sample weights given (N for uniform weights); what
        data-parallel solvers need to combine shards.
    mask : array (N, m) of bool or None
        Valid attacks (None: all valid); ``mask_numpy`` is the same as a numpy array.
    neg : array (N, m) or None
        0 on valid attacks, ``-inf`` on masked ones (added to scores).
    n_valid : array (N,) or None
        Number of valid attacks per sample (None: all ``m``).
    bound : float
        The loss bound :math:`M`.
    max_loss : float
        The largest valid loss.
    shape : tuple
        ``(N, m, L)``.
    is_binary : bool
        Every valid loss is 0 or ``max_loss`` (see :attr:`advgame.Game.is_binary`).
    binary_known : bool or None
        ``is_binary`` when the game has already computed it, else None (costs nothing).
    dtype
        The compute dtype.
    """

    __slots__ = ("_game",)

    def __init__(self, game):
        object.__setattr__(self, "_game", game)

    def __setattr__(self, name, value):
        raise AttributeError("GameView is read-only")

    # data
    nx = property(lambda self: self._game._nx)
    losses = property(lambda self: self._game._F)
    sample_weights = property(lambda self: self._game._w)
    sample_weights_float64 = property(lambda self: self._game._w64)
    weight_total = property(lambda self: float(self._game._wsum))
    mask = property(lambda self: self._game._mask)
    neg = property(lambda self: self._game._neg)
    n_valid = property(lambda self: self._game._m_valid)
    bound = property(lambda self: self._game.bound)
    max_loss = property(lambda self: float(self._game._hi))
    shape = property(lambda self: self._game.shape)
    is_binary = property(lambda self: self._game.is_binary)
    binary_known = property(lambda self: self._game._binary,
                            doc="``is_binary`` when already computed (cached), else None (no pass).")
    dtype = property(lambda self: self._game._F.dtype)
    game = property(lambda self: self._game)

    @property
    def mask_numpy(self):
        """The mask as a numpy boolean array, or None."""
        m = self._game._mask
        return None if m is None else np.asarray(self._game._nx.to_numpy(m), dtype=bool)

    # evaluations (no input checks: the caller validated once at the entry)
    def scores(self, weights):
        """``(N, m)`` expected loss of the mixture on every attack, ``-inf`` on masked ones."""
        return self._game._scores(weights)

    def risk_and_best_response(self, weights):
        """``(R(weights), per-sample max (N,), per-sample argmax (N,))``."""
        return self._game._risk_and_br(weights)

    def classifier_losses(self, adversary):
        """``(L,)`` each classifier's expected loss under an ``(N, m)`` adversary."""
        return self._game._classifier_losses(adversary)

    def one_hot(self, attacks):
        """``(N, m)`` pure adversary playing ``attacks[i]`` on sample ``i``."""
        return self._game._one_hot(attacks)

    def rows(self, samples, attacks):
        """``(R, L)`` float64 numpy loss rows ``losses[samples[r], attacks[r], :]``."""
        g = self._game
        return np.ascontiguousarray(g._nx.host_float64(g._F[:, samples, attacks]).T)

    # float64 certificates, streamed over the stored tensor
    def risk_and_best_response_float64(self, weights):
        """``(R, per-sample max (N,), argmax (N,))`` in float64 numpy for float64 numpy
        ``weights``, from one pass over the stored tensor streamed in chunks of samples (no
        float64 copy of the whole tensor).  What certificates are computed from."""
        return self._game._risk_and_br_float64(weights)

    def classifier_losses_float64(self, adversary, support=None):
        """``(L,)`` float64 classifier losses of a float64 numpy ``(N, m)`` adversary, from
        the stored tensor's rows where the adversary has mass (``support``: flat indices
        ``i * m + j`` that hold every non-zero entry, when the caller knows them).  A
        :class:`~advgame.adversary.SparseAdversary` is read on its own support."""
        if hasattr(adversary, "probabilities"):  # a SparseAdversary: its own support
            i, j = adversary.samples, adversary.attacks
            return (adversary.probabilities * self._game._w64[i]) @ self.rows(i, j)
        Q = np.asarray(adversary, dtype=np.float64)
        m = Q.shape[1]
        flat = np.flatnonzero(Q) if support is None else np.unique(np.asarray(support, dtype=np.int64))
        ii, jj = flat // m, flat % m
        return (Q.reshape(-1)[flat] * self._game._w64[ii]) @ self.rows(ii, jj)

    def certificate(self, weights, adversary, support=None):
        r"""``(value, adversary_losses)`` of a (weights, adversary) pair, in float64 from the
        game itself (never from a reduced copy): ``value`` is :math:`R(\lambda)`,
        ``adversary_losses`` the (L,) losses whose minimum is :math:`D(Q)`; the duality gap
        is their difference (weak duality, MNE21 Thm. 1).  ``support`` as in
        :meth:`classifier_losses_float64`."""
        value = self._game._risk_and_br_float64(weights, argmax=False)[0]
        return value, self.classifier_losses_float64(adversary, support)

    def check_weights(self, weights, name="weights"):
        """Validate defender weights once (shape (L,), finite, on the simplex); returns them
        in the game's library, device and dtype."""
        return self._game._as_weights(weights, name)

    def to_numpy(self) -> "GameView":
        """The view of the same game on numpy arrays (arrays shared when already numpy)."""
        return self._game.to_numpy().view()
