r"""Build the loss tensor of an empirical game from classifiers and candidate attacks.

:func:`loss_tensor` evaluates L classifiers on the m candidate attacks of each of N
samples and returns :math:`\ell_{ijk}` = loss of classifier k on attack j of sample i,
the ``(N, m, L)`` tensor :class:`advgame.Game` takes (MNE21, Sec. 4.2: the empirical
game over sampled attacks; Sec. 5.1 builds it from 1000 uniform points per ball).
It works on numpy arrays and on torch tensors (a torch classifier receives tensors on
the attacks' device) and runs in memory-bounded batches of samples.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import expit

from ._validation import check_choice, check_int, check_real
from .backend import is_torch

__all__ = ["loss_tensor", "LOSSES", "DEFAULT_BATCH_BYTES"]

#: Names of the built-in losses.
LOSSES = ("01", "sigmoid")

#: Default budget for one batch of attack points handed to the classifiers.
DEFAULT_BATCH_BYTES = 64 * 2**20


def _to_library(out, torch_like):
    """Classifier output as an array of the attacks' library (a list becomes numpy)."""
    if torch_like is None:
        if is_torch(out):
            return out.detach().cpu().numpy()
        return np.asarray(out)
    import torch

    if is_torch(out):
        return out.detach().to(torch_like.device)
    return torch.as_tensor(np.asarray(out), device=torch_like.device)


def _kind(out) -> str:
    """'bool', 'int' or 'float' for a numpy array or a torch tensor."""
    if is_torch(out):
        import torch

        if out.dtype == torch.bool:
            return "bool"
        if out.is_floating_point():
            return "float"
        if out.is_complex():
            return "complex"
        return "int"
    return {"b": "bool", "i": "int", "u": "int", "f": "float"}.get(out.dtype.kind, "other")


class _Labels:
    """The label vector in the codings the output types need.

    Labels may be of any type numpy holds (integers, booleans, strings, objects), as in
    scikit-learn; the numeric codings (signs, class indices) need numeric labels."""

    def __init__(self, y, N):
        if is_torch(y):
            y = y.detach().cpu().numpy()
        y = np.asarray(y)
        if y.shape != (N,):
            raise ValueError(f"y must have shape (N,) = ({N},) to match X; got {y.shape}")
        if y.dtype.kind == "c":
            raise TypeError(f"y must hold labels (integers, booleans or strings); got dtype {y.dtype}")
        if y.dtype.kind == "f":
            if not np.isfinite(y).all() or (y != np.round(y)).any():
                raise ValueError("y must hold integer labels ({-1, +1} or class indices 0..C-1)")
            y = y.astype(np.int64)
        self.numeric = y.dtype.kind in "biu"
        if self.numeric:
            y = y.astype(np.int64)
        self.raw = y
        values = set(np.unique(y).tolist())
        self.pm1 = self.numeric and values <= {-1, 1}
        self.zero_one = self.numeric and values <= {0, 1}
        self.min = min(values) if self.numeric else None
        self.max = max(values) if self.numeric else None
        self.values = sorted(values, key=str)

    def _need_numeric(self, k, what):
        if not self.numeric:
            shown = ", ".join(repr(v) for v in self.values[:4]) + (", ..." if len(self.values) > 4 else "")
            raise ValueError(
                f"classifier {k} returned {what}, which needs numeric labels; y holds {shown}: pass a fitted "
                "estimator (with classes_) or a classifier returning labels"
            )

    def signs(self, k):
        """Labels as -1/+1 for binary real scores."""
        self._need_numeric(k, "one real score per point")
        if self.pm1:
            return self.raw
        if self.zero_one:
            return 2 * self.raw - 1
        raise ValueError(
            f"classifier {k} returned one real score per point (a binary classifier), so y must hold "
            f"binary labels in {{-1, +1}} or {{0, 1}}; got labels from {self.min} to {self.max}"
        )

    def indices(self, k, C):
        """Labels as class indices 0..C-1 for (n, C) logits."""
        self._need_numeric(k, f"{C} scores per point (logits)")
        if self.pm1 and C == 2 and self.min == -1:
            return (self.raw == 1).astype(np.int64)
        if self.min < 0 or self.max >= C:
            raise ValueError(
                f"classifier {k} returned {C} scores per point (logits), so y must hold class indices in "
                f"0..{C - 1} (or -1/+1 when C = 2); got labels from {self.min} to {self.max}"
            )
        return self.raw

    def in_classes(self, classes):
        """The index of each label in ``classes`` (an estimator's ``classes_``), -1 when absent."""
        key = tuple(np.asarray(classes).tolist())
        cache = self.__dict__.setdefault("_in_classes", {})
        if key not in cache:  # once per estimator's classes_, not once per batch
            where = {c: i for i, c in enumerate(key)}
            cache[key] = np.array([where.get(v, -1) for v in self.raw.tolist()], dtype=np.int64)
        return cache[key]

    def wrong(self, k, pred, rows):
        """1{pred != y} for predicted labels of any type (numpy)."""
        truth = self.raw[rows]
        if (pred.dtype.kind in "USO") != (truth.dtype.kind in "USO"):
            raise TypeError(
                f"classifier {k} predicts labels of dtype {pred.dtype} but y has dtype {truth.dtype}: "
                "mix of string and number labels"
            )
        return np.asarray(pred != truth, dtype=bool)


def _check_loss(loss):
    if callable(loss):
        return loss
    if not isinstance(loss, str):
        raise TypeError(f"loss must be one of {LOSSES} or a callable loss(outputs, y); got {loss!r}")
    return check_choice("loss", loss, LOSSES)


def loss_tensor(classifiers, X, y, attacks=None, loss="01", batch_size=None, *, temperature: float = 0.25,
                dtype=None):
    r"""The ``(N, m, L)`` loss tensor of classifiers on candidate attacks.

    .. math::

        \ell_{ijk} = \ell\big(h_k(x'_{ij}),\, y_i\big), \qquad
        x'_{ij} = \texttt{attacks[i, j]},

    the loss of classifier :math:`k` on attack :math:`j` of sample :math:`i` (MNE21,
    Sec. 4.2 and 5.1).  The output of a classifier on n points decides how it is read:

    * **integer or boolean, shape (n,)** -- predicted labels, in the coding of ``y``
      (``True`` is the positive class);
    * **strings or objects, shape (n,)** -- predicted labels compared with ``y`` as
      they are (labels of any type, as in scikit-learn; mixing string and number
      labels is a TypeError);
    * **floating, shape (n,) or (n, 1)** -- real scores of a binary classifier,
      predicting the positive class when :math:`f(x) > 0`; ``y`` must be -1/+1 or
      0/1.  ``np.sign`` outputs fall here (a score of exactly 0 predicts -1);
    * **floating, shape (n, C)**, C >= 2 -- logits, predicting
      :math:`\arg\max_c f_c(x)` (the first on ties); ``y`` holds class indices
      0..C-1 (or -1/+1 when C = 2, read as indices 0/1).

    Losses:

    * ``"01"`` -- misclassification, :math:`1\{\hat y \ne y\}` (MNE21's 0/1 loss);
    * ``"sigmoid"`` -- :math:`\sigma(-\,\text{margin} / T)` in :math:`(0, 1)`, with
      :math:`T` = ``temperature`` (default 0.25), margin :math:`y f(x)` (:math:`y =
      \pm1`) for scores and :math:`f_y(x) - \max_{c \ne y} f_c(x)` for logits: a
      smooth, bounded surrogate of the 0/1 loss, above 1/2 exactly when the point is
      misclassified (the loss of the constraint-generation benchmarks, `benchmarks/README.md`);
      needs real outputs;
    * a callable ``loss(outputs, y)`` returning the n losses (shape (n,), finite and
      in :math:`[0, M]`), called in the outputs' library with ``y`` as given,
      converted to it.

    Parameters
    ----------
    classifiers : sequence of callables or fitted estimators
        A callable maps an ``(n, d)`` array of points to its outputs (above).  A torch
        classifier receives torch tensors on the attacks' device, under
        ``torch.no_grad()`` (put modules in ``eval()`` mode first).  An object that is
        not callable but has ``predict`` (a fitted scikit-learn estimator) receives
        numpy arrays: the 0/1 loss compares ``predict`` with ``y``; the sigmoid loss
        and a callable loss read ``decision_function``, else ``predict_proba`` (its
        log as logits), else ``predict``, with the scores' columns matched to ``y``
        through ``classes_`` (a label absent from ``classes_`` has loss 1).
    X : array_like or torch.Tensor, shape (N, d)
        The clean points (checks the shapes; they are the only attack when
        ``attacks`` is None).
    y : array_like or torch.Tensor, shape (N,)
        Labels of any type (see above); real scores and logits of plain callables
        need numeric labels.
    attacks : array_like or torch.Tensor, shape (N, m, d), optional
        Candidate attacks of each sample, e.g. from
        :func:`advgame.experiments.mne21_data.sample_attacks`.  Default: ``X[:, None, :]``
        (m = 1, the clean game).  Must come from the same library as ``X``.
    loss : {"01", "sigmoid"} or callable, default "01"
    batch_size : int, optional
        Samples evaluated at a time (all their m attacks at once).  Default: as many
        as keep one batch of attack points under 64 MB
        (:data:`DEFAULT_BATCH_BYTES`).  The result does not depend on it.
    temperature : float, default 0.25
        :math:`T` of the sigmoid loss.
    dtype : numpy or torch floating dtype, optional
        Of the result; default the attacks' floating dtype (float64 for integer
        attacks; torch's default dtype for integer tensors).

    Returns
    -------
    ndarray or torch.Tensor, shape (N, m, L)
        A numpy array for numpy inputs; a tensor on the attacks' device for torch
        inputs.  Ready for ``advgame.Game(losses)``.

    Raises
    ------
    TypeError
        ``classifiers`` not a sequence of callables, numpy and torch inputs mixed,
        non-numeric arrays, ``loss="sigmoid"`` with label outputs.
    ValueError
        Shapes that do not match, an output of the wrong length, labels that do not
        fit the output type, an unknown loss, a non-positive ``batch_size`` or
        ``temperature``.

    Examples
    --------
    >>> import numpy as np
    >>> from advgame.experiments.mne21_data import LinearClassifier
    >>> X = np.array([[0.0, 0.0], [2.0, 0.0]]); y = np.array([-1, 1])
    >>> attacks = X[:, None, :] + np.array([[0.0, 0.0], [1.5, 0.0], [-1.5, 0.0]])
    >>> loss_tensor([LinearClassifier([1.0, 0.0], -1.0)], X, y, attacks)[..., 0]
    array([[0., 1., 0.],
           [0., 0., 1.]])
    """
    single = callable(classifiers) or callable(getattr(classifiers, "predict", None))
    if single and not isinstance(classifiers, (list, tuple)):
        raise TypeError("classifiers must be a sequence (list or tuple) of callables; wrap a single one in a list")
    try:
        clfs = list(classifiers)
    except TypeError:
        raise TypeError(f"classifiers must be a sequence of callables; got {type(classifiers).__name__}") from None
    if not clfs:
        raise ValueError("classifiers must hold at least one classifier")
    for k, c in enumerate(clfs):
        if not (callable(c) or callable(getattr(c, "predict", None))):
            raise TypeError(f"classifiers[{k}] must be callable or a fitted estimator with predict; "
                            f"got {type(c).__name__}")
    loss = _check_loss(loss)
    temperature = check_real("temperature", temperature, lo=0, lo_open=True)

    torch_mode = is_torch(X) or is_torch(attacks)
    if torch_mode and not (is_torch(X) and (attacks is None or is_torch(attacks))):
        raise TypeError("X and attacks mix numpy and torch; pass both from the same library")
    if not torch_mode:
        X = np.asarray(X)
        if X.dtype.kind not in "biuf":
            raise TypeError(f"X must hold real numbers; got dtype {X.dtype}")
    if X.ndim != 2:
        raise ValueError(f"X must have shape (N, d); got shape {tuple(X.shape)}")
    N, d = (int(s) for s in X.shape)
    if N == 0:
        raise ValueError("X must hold at least one sample")
    if attacks is None:
        attacks = X[:, None, :]
    elif not torch_mode:
        attacks = np.asarray(attacks)
        if attacks.dtype.kind not in "biuf":
            raise TypeError(f"attacks must hold real numbers; got dtype {attacks.dtype}")
    if attacks.ndim != 3 or int(attacks.shape[0]) != N or int(attacks.shape[2]) != d:
        raise ValueError(
            f"attacks must have shape (N, m, d) = ({N}, m, {d}) to match X; got {tuple(attacks.shape)}"
        )
    m = int(attacks.shape[1])
    if m == 0:
        raise ValueError("attacks must hold at least one candidate per sample (m >= 1)")
    labels = _Labels(y, N)
    L = len(clfs)

    if torch_mode:
        import torch

        if dtype is None:
            dtype = attacks.dtype if attacks.is_floating_point() else torch.get_default_dtype()
        if not (isinstance(dtype, torch.dtype) and dtype.is_floating_point):
            raise TypeError(f"dtype must be a torch floating dtype for torch inputs; got {dtype!r}")
        out = torch.empty((N, m, L), dtype=dtype, device=attacks.device)
        itemsize = attacks.element_size()
        like = attacks
    else:
        dtype = np.dtype(dtype) if dtype is not None else (attacks.dtype if attacks.dtype.kind == "f" else np.float64)
        if dtype.kind != "f":
            raise TypeError(f"dtype must be a floating dtype; got {dtype}")
        out = np.empty((N, m, L), dtype=dtype)
        itemsize = attacks.dtype.itemsize
        like = None

    if batch_size is None:
        batch_size = max(1, DEFAULT_BATCH_BYTES // max(1, m * d * itemsize))
    else:
        batch_size = check_int("batch_size", batch_size, 1)

    ctx = _no_grad() if torch_mode else _Null()
    with ctx:
        for i0 in range(0, N, batch_size):
            i1 = min(N, i0 + batch_size)
            pts = attacks[i0:i1].reshape(-1, d)
            rows = np.repeat(np.arange(i0, i1), m)
            for k, clf in enumerate(clfs):
                if callable(clf):
                    o = _to_library(clf(pts), like)
                    vals = _evaluate(o, rows, labels, loss, k, float(temperature), like)
                else:
                    vals = _to_library(_estimator_losses(clf, pts, rows, labels, loss, k, float(temperature)), like)
                out[i0:i1, :, k] = vals.reshape(i1 - i0, m)
    return out


class _Null:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def _no_grad():
    import torch

    return torch.no_grad()


def _evaluate(o, rows, labels, loss, k, T, like):
    """Losses (n,) of one classifier's outputs ``o`` on points whose samples are ``rows``."""
    n = rows.size
    kind = _kind(o)
    if kind == "other" and not is_torch(o) and o.dtype.kind in "USO" and o.ndim == 1 and not callable(loss):
        if int(o.shape[0]) != n:
            raise ValueError(f"classifier {k} must return shape (n,) for n = {n} points; got {tuple(o.shape)}")
        if loss == "sigmoid":
            raise TypeError(f"loss='sigmoid' needs real-valued scores; classifier {k} returned labels")
        return _to_library(labels.wrong(k, o, rows), like)
    if kind not in ("bool", "int", "float"):
        raise TypeError(f"classifier {k} must return real scores or integer labels; got dtype {o.dtype}")
    if o.ndim == 2 and int(o.shape[1]) == 1:
        o = o.reshape(-1)
    if int(o.shape[0]) != n or o.ndim not in (1, 2):
        raise ValueError(
            f"classifier {k} must return shape (n,) or (n, C) for n = {n} points; got {tuple(o.shape)}"
        )
    torch_mode = like is not None

    def lib(a):  # a numpy array of labels in the outputs' library
        if torch_mode:
            import torch

            return torch.as_tensor(a, device=o.device)
        return a

    if callable(loss):
        vals = loss(o, lib(labels.raw[rows]))
        vals = _to_library(vals, like)
        if tuple(vals.shape) != (n,):
            raise ValueError(f"loss must return one value per point, shape ({n},); got {tuple(vals.shape)}")
        return vals

    if kind in ("bool", "int"):
        if o.ndim != 1:
            raise TypeError(f"classifier {k} returned integer outputs of shape {tuple(o.shape)}; "
                            "labels must be 1-D (use floating logits for (n, C) outputs)")
        if loss == "sigmoid":
            raise TypeError(f"loss='sigmoid' needs real-valued scores; classifier {k} returned {kind} labels")
        if not labels.numeric:
            return _to_library(labels.wrong(k, o.cpu().numpy() if torch_mode else o, rows), like)
        if kind == "bool":
            wrong = o != lib(labels.raw[rows] > 0)
        else:
            wrong = o != lib(labels.raw[rows])
        return wrong

    if o.ndim == 1:  # binary scores
        s = lib(labels.signs(k)[rows])
        if loss == "01":
            return (o > 0) != (s > 0)
        margin = s * o
    else:  # logits
        C = int(o.shape[1])
        if C < 2:
            raise ValueError(f"classifier {k} returned logits with C = {C} columns; need C >= 2")
        idx = lib(labels.indices(k, C)[rows])
        if torch_mode:
            import torch

            if loss == "01":
                return torch.argmax(o, dim=1) != idx
            fy = o.gather(1, idx[:, None]).squeeze(1)
            other = o.scatter(1, idx[:, None], -math.inf)
            margin = fy - torch.amax(other, dim=1)
        else:
            if loss == "01":
                return np.argmax(o, axis=1) != idx
            fy = np.take_along_axis(o, idx[:, None], axis=1)[:, 0]
            other = o.astype(np.float64, copy=True)
            other[np.arange(n), idx] = -np.inf
            margin = fy - other.max(axis=1)
    if torch_mode:
        import torch

        return torch.sigmoid(-margin / T)
    return expit(-np.asarray(margin, dtype=np.float64) / T)


def _estimator_losses(est, pts, rows, labels, loss, k, T):
    """Losses (n,) of a fitted estimator (scikit-learn style, numpy) on the points ``pts``.

    The 0/1 loss reads ``predict``.  The sigmoid loss (and a callable loss) reads
    ``decision_function``, else the log of ``predict_proba``, else ``predict``; scores
    are matched to the labels through ``classes_`` (a label the estimator does not know
    has margin -inf, loss 1)."""
    if is_torch(pts):
        pts = pts.detach().cpu().numpy()
    if loss == "01":
        return _evaluate(np.asarray(est.predict(pts)), rows, labels, loss, k, T, None)
    if callable(getattr(est, "decision_function", None)):
        scores, logits = np.asarray(est.decision_function(pts), dtype=np.float64), None
    elif callable(getattr(est, "predict_proba", None)):
        proba = np.asarray(est.predict_proba(pts), dtype=np.float64)
        scores, logits = proba, np.log(np.clip(proba, 1e-300, None))
    else:
        return _evaluate(np.asarray(est.predict(pts)), rows, labels, loss, k, T, None)
    classes = getattr(est, "classes_", None)
    if callable(loss) or classes is None:
        return _evaluate(scores, rows, labels, loss, k, T, None)
    logits = scores if logits is None else logits
    idx = labels.in_classes(classes)[rows]
    n = rows.size
    if logits.ndim == 1 or (logits.ndim == 2 and logits.shape[1] == 1):  # binary decision_function
        f = logits.reshape(-1)
        margin = np.where(idx == 1, f, -f)
    else:
        if logits.shape != (n, len(classes)):
            raise ValueError(f"classifier {k} returned scores of shape {logits.shape}; expected ({n}, "
                             f"{len(classes)}) for its {len(classes)} classes_")
        safe = np.maximum(idx, 0)
        fy = logits[np.arange(n), safe]
        other = logits.copy()
        other[np.arange(n), safe] = -np.inf
        margin = fy - other.max(axis=1)
    margin = np.where(idx < 0, -np.inf, margin)
    return expit(-margin / T)
