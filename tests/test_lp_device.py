"""The exact solver's device path (issue 21, item 6): a torch game's 0/1 scan, float64
certificate and best-response passes in torch ops (advgame.solvers.lp.device), checked
against the host path on CPU tensors (float32 and float64), and on CUDA where there is one."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import advgame  # noqa: E402
from advgame.solvers.lp import device as dev  # noqa: E402
from advgame.solvers.lp.pruning import binary_rows, prune_codes, scan_binary  # noqa: E402

pytestmark = pytest.mark.torch


def _arrays(N, m, L, kind, seed, masked=False, weighted=False):
    rng = np.random.default_rng(seed)
    if kind == "01":
        X = (rng.random((N, m, L)) < 0.3) * 1.0
    else:  # sigmoid of a random margin: real-valued, no ties
        X = 1.0 / (1.0 + np.exp(3.0 * rng.normal(size=(N, m, L))))
    mask = None
    if masked:
        mask = rng.random((N, m)) < 0.7
        mask[np.arange(N), rng.integers(0, m, N)] = True
    sw = None
    if weighted:
        sw = rng.random(N) + 0.05
        sw[:3] = 0.0  # inactive samples: they play their best response
    return X, mask, sw


def _torch_game(X, mask, sw, dtype, device="cpu", scale=1.0):
    return advgame.Game(torch.tensor(X * scale, dtype=dtype, device=device),
                        mask=None if mask is None else torch.tensor(mask, device=device), sample_weights=sw)


def _solve(game, path, monkeypatch, **kw):
    monkeypatch.setenv("ADVGAME_LP_DEVICE", path)
    res = advgame.solve(game, method="lp", **kw)
    monkeypatch.delenv("ADVGAME_LP_DEVICE")
    return res


@pytest.fixture
def compiled_host(monkeypatch):
    """The host path with its compiled float64 pass on every game: the device path's
    float64 pass adds classifier by classifier with fused multiply-adds as it does, so best
    responses break ties alike and constraint generation takes the same rounds."""
    monkeypatch.setenv("ADVGAME_JIT_MIN_ENTRIES", "0")


def _assert_same(r_host, r_dev, tol=1e-12):
    assert r_dev.status == r_host.status
    assert r_dev.info.get("strategy") == r_host.info.get("strategy")
    np.testing.assert_allclose(r_dev.weights.cpu().numpy(), r_host.weights.cpu().numpy(), rtol=0, atol=tol)
    assert abs(r_dev.value - r_host.value) <= tol
    assert abs(r_dev.gap - r_host.gap) <= tol and abs(r_dev.lower_bound - r_host.lower_bound) <= tol
    np.testing.assert_allclose(np.asarray(r_dev.adversary), np.asarray(r_host.adversary), rtol=0, atol=tol)


# L = 3, 10: the (sample, code) table; 20: sorted (code, attack) keys; 56: codes by bitwise ors
# (L > 53) and a stable sort (L + 4 bits of attack > 62); 63: no packing (constraint generation)
@pytest.mark.parametrize("L", [3, 10, 20, 56, 63])
@pytest.mark.parametrize("kind", ["01", "sigmoid"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_device_path_equals_host_path(L, kind, dtype, monkeypatch, compiled_host):
    X, mask, sw = _arrays(60, 12, L, kind, seed=L, masked=L % 2 == 0, weighted=True)
    game = _torch_game(X, mask, sw, dtype)
    r_host = _solve(game, "0", monkeypatch)
    r_dev = _solve(game, "1", monkeypatch)
    assert "device" not in r_host.info and r_dev.info["device"] == "cpu"
    assert r_host.status == advgame.result.OPTIMAL
    _assert_same(r_host, r_dev)
    assert r_dev.weights.dtype == dtype and r_dev.weights.device.type == "cpu"
    assert float(game.risk(r_dev.weights)) <= r_dev.value + 1e-15  # the certificate rules


@pytest.mark.parametrize("strategy", ["prune", "cg", "cuts", "full"])
def test_each_strategy_equal(strategy, monkeypatch, compiled_host):
    X, mask, sw = _arrays(80, 10, 6, "01", seed=5, masked=True, weighted=True)
    game = _torch_game(X, mask, sw, torch.float32, scale=0.5)  # losses 0 / 0.5
    _assert_same(_solve(game, "0", monkeypatch, strategy=strategy), _solve(game, "1", monkeypatch, strategy=strategy))


def test_sigmoid_cuts_equal(monkeypatch, compiled_host):
    X, mask, sw = _arrays(150, 20, 8, "sigmoid", seed=9, weighted=True)
    game = _torch_game(X, mask, sw, torch.float64)
    _assert_same(_solve(game, "0", monkeypatch, strategy="cuts"), _solve(game, "1", monkeypatch, strategy="cuts"))


def test_float32_cuts_certified_alike(monkeypatch, compiled_host):
    """Aggregated cuts on a float32 game search with passes in the stored dtype, which torch
    and numpy round differently (summation order): the rounds may differ, never the
    guarantee: both optimal, values within the tolerance, each certificate valid."""
    X, mask, sw = _arrays(150, 20, 8, "sigmoid", seed=9, weighted=True)
    game = _torch_game(X, mask, sw, torch.float32)
    r_host = _solve(game, "0", monkeypatch, strategy="cuts")
    r_dev = _solve(game, "1", monkeypatch, strategy="cuts")
    tol = 8 * torch.finfo(torch.float32).eps * game.view().max_loss  # the default tol of a float32 game
    assert r_host.status == r_dev.status == advgame.result.OPTIMAL
    assert abs(r_dev.value - r_host.value) <= tol and r_dev.gap <= tol
    assert float(game.risk(r_dev.weights)) <= r_dev.value
    assert r_dev.lower_bound <= r_host.value and r_host.lower_bound <= r_dev.value  # weak duality across


def test_blocks_smaller_than_n(monkeypatch, compiled_host):
    """Blocks of a few samples (the last one short): the same scan and the same solve."""
    X, mask, sw = _arrays(53, 9, 7, "01", seed=3, masked=True, weighted=True)
    game = _torch_game(X, mask, sw, torch.float32, scale=0.3)  # a max loss that is not a power of two
    whole = dev.DeviceView(game.view(), block_entries=10**9)
    small = dev.DeviceView(game.view(), block_entries=5 * 9 * 7)  # 5 samples a block
    assert len(small._blocks()) == 11 and len(whole._blocks()) == 1
    for a, b in zip(small.scan_binary(), whole.scan_binary()):
        np.testing.assert_array_equal(a, b)
    lam = np.random.default_rng(0).dirichlet(np.ones(7))
    for a, b in zip(small.risk_and_best_response_float64(lam)[1:], whole.risk_and_best_response_float64(lam)[1:]):
        np.testing.assert_array_equal(a, b)
    r_host = _solve(game, "0", monkeypatch)
    monkeypatch.setattr(dev, "BLOCK_ENTRIES_CPU", 4 * 9 * 7)
    _assert_same(r_host, _solve(game, "1", monkeypatch))


@pytest.mark.parametrize("L,m", [(3, 12), (10, 12), (10, 600), (20, 12), (56, 12), (60, 12), (62, 40)])
@pytest.mark.parametrize("masked", [False, True])
def test_distinct_codes_equal_numpy(L, m, masked):
    """Every branch of the device scan (table, sorted keys, stable sort; product and
    bitwise-or codes) gives numpy's distinct rows and undominated rows."""
    X, mask, _ = _arrays(23, m, L, "01", seed=L + m, masked=masked)
    for dtype in (torch.float32, torch.float64):
        game = _torch_game(X, mask, None, dtype)
        view = dev.DeviceView(game.view(), block_entries=7 * m * L)
        host = game.view().to_numpy()
        ref = binary_rows(host)
        got = view.distinct_codes()
        for a, b in zip(got, ref):
            np.testing.assert_array_equal(a, b)
        pruned = prune_codes(host, ref)[:3]
        for a, b, c in zip(view.scan_binary(), pruned, scan_binary(host, use_jit=False)):
            np.testing.assert_array_equal(a, b)
            np.testing.assert_array_equal(a, c)
            assert a.dtype == np.int64


def test_not_binary_and_too_many_classifiers():
    X, _, _ = _arrays(10, 5, 4, "01", seed=0)
    X[7, 2, 1] = 0.5  # one loss neither 0 nor the max: found in its block
    view = dev.DeviceView(_torch_game(X, None, None, torch.float32).view(), block_entries=2 * 5 * 4)
    assert view.distinct_codes() is None and view.scan_binary() is None
    wide = dev.DeviceView(_torch_game(*_arrays(4, 3, 63, "01", seed=1)[:3], torch.float32).view())
    with pytest.raises(ValueError, match="at most 62 classifiers; got L=63"):
        wide.distinct_codes()


def test_masked_entries_need_not_be_binary():
    """Masked entries are ignored (the game stores 0 there), whatever they held."""
    X, mask, _ = _arrays(12, 6, 5, "01", seed=2, masked=True)
    X[~mask] = 0.37
    game = _torch_game(X, mask, None, torch.float64)
    rows = dev.DeviceView(game.view()).distinct_codes()
    assert rows is not None
    for a, b in zip(rows, binary_rows(game.view().to_numpy())):
        np.testing.assert_array_equal(a, b)


def test_float64_pass_matches_host():
    X, mask, sw = _arrays(40, 15, 9, "sigmoid", seed=4, masked=True, weighted=True)
    game = _torch_game(X, mask, sw, torch.float32)
    lam = np.random.default_rng(1).dirichlet(np.ones(9))
    R, mx, js = dev.DeviceView(game.view(), block_entries=100).risk_and_best_response_float64(lam)
    R0, mx0, js0 = game.view().to_numpy().risk_and_best_response_float64(lam)
    assert R == pytest.approx(R0, rel=1e-14, abs=0) and mx.dtype == np.float64 and js.dtype == np.int64
    np.testing.assert_allclose(mx, mx0, rtol=1e-14, atol=0)
    np.testing.assert_array_equal(js, js0)
    R2, mx2, none = dev.DeviceView(game.view()).risk_and_best_response_float64(lam, argmax=False)
    assert none is None and R2 == R and np.array_equal(mx2, mx)
    # rows and an adversary's losses: the host view's
    view, host = dev.DeviceView(game.view()), game.view().to_numpy()
    i, j = np.array([3, 0, 39, 3]), np.array([14, 2, 0, 14])
    np.testing.assert_array_equal(view.rows(i, j), host.rows(i, j))
    assert view.rows(i, j).dtype == np.float64 and view.rows(i, j).flags.c_contiguous
    Q = np.zeros((40, 15))
    Q[np.arange(40), js] = 0.5
    Q[np.arange(40), np.argmax(mask, axis=1)] += 0.5
    from advgame.adversary import SparseAdversary

    sq = SparseAdversary(*np.nonzero(Q), Q[np.nonzero(Q)], Q.shape)
    for a, sup in ((Q, None), (Q, np.flatnonzero(Q)), (sq, None)):
        np.testing.assert_allclose(view.classifier_losses_float64(a, sup), host.classifier_losses_float64(a, sup),
                                   rtol=1e-15, atol=0)
    # the stored-dtype pass (what aggregated cuts search with) is the game's own
    R3, mx3, js3 = dev.DeviceView(game.view()).risk_and_best_response(lam)
    assert R3 == pytest.approx(float(game.risk(lam)), rel=1e-6) and isinstance(js3, np.ndarray)
    np.testing.assert_array_equal(js3, game.best_response(lam).numpy())


def test_tensor_never_crosses_to_the_host(monkeypatch):
    """0/1 and sigmoid games: no numpy copy of the game, and every tensor that becomes a numpy
    array (``Tensor.numpy``, what every host copy ends in) is far smaller than the loss
    tensor (60 * 12 * 8 = 5760 losses): kept codes, ``(N,)`` passes, the LP's rows."""
    from advgame.game.core import Game

    def no_copy(self):
        raise AssertionError("Game.to_numpy called on the device path")

    sizes = []
    to_numpy = torch.Tensor.numpy

    def spy(self, *args, **kwargs):
        sizes.append(int(self.numel()))
        return to_numpy(self, *args, **kwargs)

    monkeypatch.setattr(Game, "to_numpy", no_copy)
    for kind in ("01", "sigmoid"):
        X, mask, sw = _arrays(60, 12, 8, kind, seed=6, weighted=True)
        game = _torch_game(X, mask, sw, torch.float32)
        monkeypatch.setattr(torch.Tensor, "numpy", spy)
        res = _solve(game, "1", monkeypatch)
        monkeypatch.setattr(torch.Tensor, "numpy", to_numpy)
        assert res.status == advgame.result.OPTIMAL and res.info["device"] == "cpu"
        assert sizes and max(sizes) <= 5760 // 4, (kind, max(sizes))
        sizes.clear()
    with pytest.raises(AssertionError, match="Game.to_numpy called"):  # the spy does catch the host path
        _solve(game, "0", monkeypatch)


def test_path_choice(monkeypatch):
    X, _, _ = _arrays(5, 4, 3, "01", seed=0)
    tview = _torch_game(X, None, None, torch.float32).view()
    nview = advgame.Game(X).view()
    monkeypatch.delenv("ADVGAME_LP_DEVICE", raising=False)
    assert not dev.use_device_path(tview)  # a CPU tensor: the host path (faster there)
    assert not dev.use_device_path(nview)
    assert isinstance(dev.device_view(tview), type(nview))
    monkeypatch.setenv("ADVGAME_LP_DEVICE", "1")
    assert dev.use_device_path(tview) and not dev.use_device_path(nview)
    assert not dev.use_device_path(tview, solver="cvxpy")  # cvxpy builds the full LP on the host
    assert isinstance(dev.device_view(tview), dev.DeviceView)
    monkeypatch.setenv("ADVGAME_LP_DEVICE", "off")
    assert not dev.use_device_path(tview)
    monkeypatch.setenv("ADVGAME_LP_DEVICE", "auto")
    assert not dev.use_device_path(tview)
    monkeypatch.setenv("ADVGAME_LP_DEVICE", "gpu")
    with pytest.raises(ValueError, match="ADVGAME_LP_DEVICE must be 1/on .* got 'gpu'"):
        advgame.solve(_torch_game(X, None, None, torch.float32), method="lp")
    assert advgame.solve(advgame.Game(X), method="lp").status == "optimal"  # numpy games never read it


def test_device_view_errors():
    X, _, _ = _arrays(5, 4, 3, "01", seed=0)
    with pytest.raises(TypeError, match="needs a torch game's view; got a numpy game"):
        dev.DeviceView(advgame.Game(X).view())
    tview = _torch_game(X, None, None, torch.float32).view()
    with pytest.raises(ValueError, match="block_entries must be a positive int; got 0"):
        dev.DeviceView(tview, block_entries=0)
    with pytest.raises(AttributeError, match="keeps the loss tensor on its device"):
        dev.DeviceView(tview).losses


@pytest.mark.parametrize("kwargs,exc,match", [
    (dict(tol=-1.0), ValueError, "tol must be a positive number"),
    (dict(init=[0.5, 0.5]), ValueError, "init"),
    (dict(strategy="bogus"), ValueError, "strategy"),
    (dict(strategy="prune"), ValueError, "strategy='prune' needs a 0/1 game"),
])
def test_errors_unchanged(kwargs, exc, match, monkeypatch):
    X, _, _ = _arrays(8, 5, 3, "sigmoid", seed=0)
    game = _torch_game(X, None, None, torch.float32)
    msgs = []
    for path in ("0", "1"):
        monkeypatch.setenv("ADVGAME_LP_DEVICE", path)
        with pytest.raises(exc, match=match) as info:
            advgame.solve(game, method="lp", **kwargs)
        msgs.append(str(info.value))
    assert msgs[0] == msgs[1]


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("kind,L", [("01", 10), ("01", 63), ("sigmoid", 10)])
def test_cuda_game_equals_cpu(kind, L, monkeypatch):
    """A CUDA game runs the device path by default and gives the CPU host path's answer
    (float64 passes on the GPU round like a float64 dot product: weights to 1e-9)."""
    X, mask, sw = _arrays(200, 30, L, kind, seed=11, masked=True, weighted=True)
    monkeypatch.delenv("ADVGAME_LP_DEVICE", raising=False)
    r_gpu = advgame.solve(_torch_game(X, mask, sw, torch.float64, device="cuda"), method="lp")
    r_cpu = advgame.solve(_torch_game(X, mask, sw, torch.float64), method="lp")
    assert r_gpu.info["device"].startswith("cuda") and "device" not in r_cpu.info
    assert r_gpu.status == r_cpu.status == advgame.result.OPTIMAL
    assert r_gpu.weights.device.type == "cuda"
    assert abs(r_gpu.value - r_cpu.value) <= 1e-9
    if kind == "01" and L <= 62:  # the same pruned LP: the same weights
        np.testing.assert_allclose(r_gpu.weights.cpu().numpy(), r_cpu.weights.numpy(), rtol=0, atol=1e-12)
