"""advgame.construct.loss_tensor against a naive triple loop, on numpy and torch."""

from __future__ import annotations

import math

import numpy as np
import pytest

import advgame
from advgame.construct import loss_tensor
from advgame.synthetic import LinearClassifier, make_gaussians, random_linear_classifiers, sample_attacks

T = 0.25


def _setup(N=23, m=9, seed=0):
    X, y = make_gaussians(N, seed=seed)
    clfs = random_linear_classifiers(X, y, 4, max_risk=0.6, seed=seed + 1)
    A = sample_attacks(X, 1.5, m, seed=seed + 2)
    return X, y, clfs, A


def naive(clfs, y, A, loss):
    """One point at a time, plain Python arithmetic (binary scores, y in {-1, +1})."""
    N, m, _ = A.shape
    out = np.zeros((N, m, len(clfs)))
    for i in range(N):
        for j in range(m):
            for k, c in enumerate(clfs):
                f = float(np.dot(c.w, A[i, j]) + c.b)
                if loss == "01":
                    out[i, j, k] = float((1 if f > 0 else -1) != y[i])
                else:
                    out[i, j, k] = 1.0 / (1.0 + math.exp(y[i] * f / T))
    return out


@pytest.mark.parametrize("loss", ["01", "sigmoid"])
@pytest.mark.parametrize("batch_size", [None, 1, 7, 1000])
def test_numpy_scores_match_naive_loop(loss, batch_size):
    X, y, clfs, A = _setup()
    got = loss_tensor(clfs, X, y, A, loss=loss, batch_size=batch_size)
    assert isinstance(got, np.ndarray) and got.shape == (23, 9, 4) and got.dtype == np.float64
    np.testing.assert_allclose(got, naive(clfs, y, A, loss), rtol=1e-12, atol=1e-14)
    if loss == "01":
        assert set(np.unique(got)) <= {0.0, 1.0} and got.max() == 1.0


@pytest.mark.parametrize("loss", ["01", "sigmoid"])
@pytest.mark.parametrize("batch_size", [None, 5])
def test_torch_classifiers_match_naive_loop(loss, batch_size):
    torch = pytest.importorskip("torch")
    X, y, clfs, A = _setup(N=17, m=6, seed=3)
    seen = []

    class TorchLinear(torch.nn.Module):
        def __init__(self, c):
            super().__init__()
            self.lin = torch.nn.Linear(2, 1, dtype=torch.float64)
            with torch.no_grad():
                self.lin.weight[:] = torch.from_numpy(c.w)[None]
                self.lin.bias[:] = c.b

        def forward(self, x):
            seen.append((type(x), x.requires_grad, torch.is_grad_enabled()))
            return self.lin(x)  # (n, 1) scores

    models = [TorchLinear(c) for c in clfs]
    got = loss_tensor(models, torch.from_numpy(X), torch.from_numpy(y), torch.from_numpy(A), loss=loss,
                      batch_size=batch_size)
    assert isinstance(got, torch.Tensor) and got.dtype == torch.float64 and tuple(got.shape) == (17, 6, 4)
    assert not got.requires_grad
    assert all(t is torch.Tensor and not g for t, _, g in seen)
    np.testing.assert_allclose(got.numpy(), naive(clfs, y, A, loss), rtol=1e-12, atol=1e-14)
    # float32 tensors: the result keeps float32
    got32 = loss_tensor(clfs, torch.from_numpy(X).float(), torch.from_numpy(y), torch.from_numpy(A).float())
    assert got32.dtype == torch.float32
    np.testing.assert_array_equal(got32.numpy(), naive(clfs, y, A.astype(np.float32), "01"))


def test_label_outputs_bool_outputs_and_zero_one_y():
    X, y, clfs, A = _setup()
    ref = naive(clfs, y, A, "01")
    as_labels = [lambda P, c=c: c.predict(P) for c in clfs]  # int labels in {-1, +1}
    as_bool = [lambda P, c=c: c(P) > 0 for c in clfs]  # True = positive class
    as_sign = [lambda P, c=c: np.sign(c(P)) for c in clfs]  # float +-1 (0 predicts -1)
    for variant in (as_labels, as_bool, as_sign):
        np.testing.assert_array_equal(loss_tensor(variant, X, y, A), ref)
    # scores with 0/1 labels: 0 is the negative class
    np.testing.assert_array_equal(loss_tensor(clfs, X, (y + 1) // 2, A), ref)
    np.testing.assert_allclose(loss_tensor(clfs, X, (y + 1) // 2, A, loss="sigmoid"),
                               naive(clfs, y, A, "sigmoid"), rtol=1e-12)


@pytest.mark.parametrize("loss", ["01", "sigmoid"])
def test_logits_match_naive_multiclass_loop(loss):
    rng = np.random.default_rng(0)
    N, m, d, C = 11, 5, 3, 4
    A = rng.normal(size=(N, m, d))
    X = A[:, 0]
    y = rng.integers(0, C, N)
    Ws = [rng.normal(size=(d, C)) for _ in range(3)]
    clfs = [lambda P, W=W: P @ W for W in Ws]
    got = loss_tensor(clfs, X, y, A, loss=loss, batch_size=4)
    ref = np.zeros((N, m, 3))
    for i in range(N):
        for j in range(m):
            for k, W in enumerate(Ws):
                f = A[i, j] @ W
                if loss == "01":
                    ref[i, j, k] = float(int(np.argmax(f)) != y[i])
                else:
                    margin = f[y[i]] - max(f[c] for c in range(C) if c != y[i])
                    ref[i, j, k] = 1 / (1 + math.exp(margin / T))
    np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-14)
    torch = pytest.importorskip("torch")
    tclfs = [lambda P, W=torch.from_numpy(W): P @ W for W in Ws]
    gott = loss_tensor(tclfs, torch.from_numpy(X), torch.from_numpy(y), torch.from_numpy(A), loss=loss)
    np.testing.assert_allclose(gott.numpy(), ref, rtol=1e-12, atol=1e-14)


def test_two_logits_with_pm1_labels_equal_binary_scores():
    X, y, clfs, A = _setup()
    two = [lambda P, c=c: np.stack([np.zeros(len(P)), c(P)], axis=1) for c in clfs]
    for loss in ("01", "sigmoid"):
        np.testing.assert_allclose(loss_tensor(two, X, y, A, loss=loss), loss_tensor(clfs, X, y, A, loss=loss))


def test_callable_loss_default_attacks_and_batch_default():
    X, y, clfs, A = _setup()
    hinge = lambda f, yy: np.clip(1 - yy * f, 0, 2)  # noqa: E731
    got = loss_tensor(clfs, X, y, A, loss=hinge)
    ref = np.clip(1 - y[:, None, None] * np.stack([A @ c.w + c.b for c in clfs], axis=-1), 0, 2)
    np.testing.assert_allclose(got, ref, rtol=1e-12)
    clean = loss_tensor(clfs, X, y)  # attacks=None: the clean game
    assert clean.shape == (23, 1, 4)
    np.testing.assert_array_equal(clean[:, 0], naive(clfs, y, A, "01")[:, 0])
    # the game built from the tensor: each classifier's sampled risk
    game = advgame.Game(loss_tensor(clfs, X, y, A))
    np.testing.assert_allclose(game.classifier_risks(), naive(clfs, y, A, "01").max(axis=1).mean(axis=0))


def test_default_batches_bound_the_points_per_call():
    X, y = make_gaussians(40, seed=0)
    A = sample_attacks(X, 1.0, 3, seed=0)
    sizes = []

    def clf(P):
        sizes.append(len(P))
        return P[:, 0]

    import advgame.construct as C

    old = C.DEFAULT_BATCH_BYTES
    try:
        C.DEFAULT_BATCH_BYTES = 7 * 3 * 2 * 8  # seven samples of 3 attacks in 2-D float64
        out = loss_tensor([clf], X, y, A)
    finally:
        C.DEFAULT_BATCH_BYTES = old
    assert max(sizes) == 21 and sum(sizes) == 120
    np.testing.assert_array_equal(out[..., 0], (np.where(A[..., 0] > 0, 1, -1) != y[:, None]).astype(float))


@pytest.mark.parametrize(
    "kwargs, exc, words",
    [
        (dict(classifiers=[]), ValueError, "at least one"),
        (dict(classifiers=[1]), TypeError, r"classifiers\[0\]"),
        (dict(classifiers=LinearClassifier([1.0, 0.0], 0.0)), TypeError, "sequence"),
        (dict(loss="hinge"), ValueError, "loss must be"),
        (dict(batch_size=0), ValueError, "batch_size"),
        (dict(temperature=0.0), ValueError, "temperature"),
        (dict(attacks=np.zeros((5, 3, 2))), ValueError, "attacks must have shape"),
        (dict(attacks=np.zeros((6, 3, 3))), ValueError, "attacks must have shape"),
        (dict(y=np.array([0, 1, 2, 0, 1, 2])), ValueError, "binary labels"),
        (dict(y=np.ones(5)), ValueError, "y must have shape"),
        (dict(classifiers=[lambda P: np.zeros(3)]), ValueError, "classifier 0 must return shape"),
        (dict(classifiers=[lambda P: np.zeros(len(P), int)], loss="sigmoid"), TypeError, "sigmoid"),
        (dict(classifiers=[lambda P: np.zeros((len(P), 3))]), ValueError, "class indices"),
        (dict(classifiers=[lambda P: np.full(len(P), "a")]), TypeError, "classifier 0"),
        (dict(dtype=np.int32), TypeError, "dtype"),
    ],
)
def test_bad_input(kwargs, exc, words):
    X = np.zeros((6, 2))
    args = dict(classifiers=[LinearClassifier([1.0, 0.0], 0.0)], X=X, y=np.array([-1, 1] * 3),
                attacks=np.zeros((6, 3, 2)))
    args.update(kwargs)
    with pytest.raises(exc, match=words):
        loss_tensor(**args)


def test_mixed_libraries_rejected():
    torch = pytest.importorskip("torch")
    X = np.zeros((4, 2))
    with pytest.raises(TypeError, match="mix numpy and torch"):
        loss_tensor([LinearClassifier([1.0, 0.0], 0.0)], X, np.array([-1, 1, -1, 1]), torch.zeros(4, 2, 2))


def test_zero_score_predicts_negative():
    # the convention of LinearClassifier.predict and examples.motivating_game: +1 iff f > 0
    X = np.zeros((4, 2))
    y = np.array([-1, 1, -1, 1])
    zero = [lambda P: np.zeros(len(P))]
    np.testing.assert_array_equal(loss_tensor(zero, X, y)[:, 0, 0], [0, 1, 0, 1])
    np.testing.assert_allclose(loss_tensor(zero, X, y, loss="sigmoid")[:, 0, 0], 0.5)


# ------------------------------------------------------------ scikit-learn estimators
def _sk_setup():
    X, y = make_gaussians(80, seed=5)
    A = sample_attacks(X, 1.0, 6, seed=6)
    return X, y, A


def test_sklearn_logistic_regression_matches_its_decision_function():
    linear_model = pytest.importorskip("sklearn.linear_model")
    X, y, A = _sk_setup()
    est = linear_model.LogisticRegression().fit(X, y)
    clf = LinearClassifier(est.coef_[0], est.intercept_[0])  # the same linear function, as a callable
    for loss in ("01", "sigmoid"):
        got = loss_tensor([est], X, y, A, loss=loss)
        np.testing.assert_allclose(got, loss_tensor([clf], X, y, A, loss=loss), rtol=1e-10, atol=1e-12)
    # Game.from_classifiers delegates to loss_tensor: estimators and callables mix
    game = advgame.Game.from_classifiers([est, clf], X, y, A)
    np.testing.assert_array_equal(game.classifier_risks()[0], game.classifier_risks()[1])


def test_sklearn_tree_on_string_labels():
    tree = pytest.importorskip("sklearn.tree")
    X, y, A = _sk_setup()
    names = np.where(y > 0, "cat", "dog")
    est = tree.DecisionTreeClassifier(max_depth=2, random_state=0).fit(X, names)
    pred = est.predict(A.reshape(-1, 2)).reshape(A.shape[:2])
    want = (pred != names[:, None]).astype(float)
    np.testing.assert_array_equal(loss_tensor([est], X, names, A)[..., 0], want)
    # the sigmoid loss reads predict_proba through classes_: above 1/2 exactly where misclassified
    # (a depth-2 tree has pure-enough leaves that no probability is exactly 1/2 here)
    sig = loss_tensor([est], X, names, A, loss="sigmoid")[..., 0]
    np.testing.assert_array_equal(sig > 0.5, want > 0.5)
    # a label the estimator never saw is always a loss
    other = names.copy()
    other[0] = "bird"
    assert loss_tensor([est], X, other, A)[0, :, 0].tolist() == [1.0] * 6
    assert loss_tensor([est], X, other, A, loss="sigmoid")[0, :, 0].tolist() == [1.0] * 6
    game = advgame.Game.from_classifiers([est], X, names, A)
    assert game.classifier_risks()[0] == pytest.approx(want.max(axis=1).mean())


def test_string_labels_need_a_label_classifier():
    X, y, A = _sk_setup()
    names = np.where(y > 0, "cat", "dog")
    clf = LinearClassifier([1.0, 0.0], 0.0)
    with pytest.raises(ValueError, match="needs numeric labels"):
        loss_tensor([clf], X, names, A)  # real scores: which string is positive?
    with pytest.raises(TypeError, match="mix of string and number"):
        loss_tensor([clf.predict], X, names, A)  # -1/+1 predictions against string labels
    label_clf = [lambda P: np.where(P[:, 0] > 0, "cat", "dog")]
    np.testing.assert_array_equal(loss_tensor(label_clf, X, names, A)[..., 0],
                                  loss_tensor([clf], X, y, A)[..., 0])
    with pytest.raises(TypeError, match="must be callable or a fitted estimator"):
        loss_tensor([object()], X, y, A)
