"""Issue 10 for the game and the LP: the backend operations Game uses (numpy and torch),
the solver contract (GameView), and conversions without ``__dict__`` copies."""

from __future__ import annotations

import importlib.util
import pathlib
import re

import numpy as np
import pytest

import advgame
from advgame import Game
from advgame.backend import get_backend

HAS_TORCH = importlib.util.find_spec("torch") is not None
SRC = pathlib.Path(advgame.__file__).parent


def libraries():
    out = [("numpy", lambda x: x)]
    if HAS_TORCH:
        import torch

        out.append(("torch-cpu", lambda x: torch.from_numpy(np.ascontiguousarray(x))))
        if torch.cuda.is_available():
            out.append(("torch-cuda", lambda x: torch.from_numpy(np.ascontiguousarray(x)).to("cuda")))
    return out


@pytest.fixture(params=libraries(), ids=lambda p: p[0])
def lib(request):
    return request.param[1]


def test_backend_operations_used_by_game(lib):
    x = lib(np.arange(24, dtype=np.float64).reshape(2, 3, 4))
    nx = get_backend(x)
    assert nx.has_data(x)
    assert nx.dtype_kind(x) == "f" and nx.dtype_kind(lib(np.ones(2, bool))) == "b"
    assert nx.dtype_kind(lib(np.ones(2, np.int64))) == "i"
    assert nx.dtype_name(nx.to_working_layout(x, nx.working_dtype(lib(np.ones(2, np.int32))))) in ("float64", "float32")
    F = nx.to_working_layout(x, nx.working_dtype(x))
    assert tuple(F.shape) == (4, 2, 3)
    np.testing.assert_array_equal(nx.to_numpy(F), np.moveaxis(np.arange(24.0).reshape(2, 3, 4), 2, 0))
    F[0, 0, 0] = -1.0  # a fresh copy
    assert float(nx.to_numpy(x)[0, 0, 0]) == 0.0
    np.testing.assert_array_equal(nx.to_numpy(nx.permute(F, (1, 2, 0)))[1], np.arange(12.0, 24).reshape(3, 4))
    m = nx.convert([[True, False]], F, "mask", keep_dtype=True)
    assert nx.dtype_kind(m) == "b" and nx.device(m) == nx.device(F)
    w = nx.convert([0.5, 0.5], F, "weights")
    assert w.dtype == F.dtype and nx.device(w) == nx.device(F)
    assert nx.cast(m, F).dtype == F.dtype
    assert nx.to_numpy(nx.isfinite(lib(np.array([1.0, np.inf])))).tolist() == [True, False]
    assert nx.to_numpy(nx.any(lib(np.array([[False, True], [False, False]])), 1)).tolist() == [True, False]
    assert nx.first_true(lib(np.array([[False, False], [False, True]]))) == (1, 1)
    assert nx.is_two_valued(lib(np.array([0.0, 0.3, 0.3])), 0.3)
    assert not nx.is_two_valued(lib(np.array([0.0, 0.3, 0.2])), 0.3)
    h = nx.host_float64(lib(np.array([1.0, 2.0], np.float32)))
    assert isinstance(h, np.ndarray) and h.dtype == np.float64
    z = lib(np.zeros(2))
    assert nx.is_host_float64(z) == (str(nx.device(z)) == "cpu")
    assert not nx.is_host_float64(lib(np.zeros(2, np.float32)))


def test_numpy_backend_refuses_tensors_in_convert():
    torch = pytest.importorskip("torch")
    nx = get_backend(np.zeros(1))
    with pytest.raises(TypeError, match="mask is a torch tensor but the game holds numpy arrays"):
        nx.convert(torch.ones(2, dtype=torch.bool), np.zeros(1), "mask", keep_dtype=True)


def test_torch_meta_has_no_data():
    torch = pytest.importorskip("torch")
    x = torch.zeros(2, device="meta")
    assert not get_backend(x).has_data(x)


def test_single_classifier_game_never_aliases_the_callers_array():
    """(N, m, 1) float64: the (L, N, m) layout was a view of the caller's array, and masking
    wrote zeros into it."""
    x = np.ones((2, 2, 1))
    Game(x, mask=np.array([[True, False], [True, True]]))
    assert x[0, 1, 0] == 1.0


def test_to_numpy_builds_a_game_without_dict_copies():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    x = (rng.random((5, 3, 4)) < 0.5).astype(np.float64)
    mask = rng.random((5, 3)) < 0.8
    mask[:, 0] = True
    g = Game(torch.from_numpy(x), mask=torch.from_numpy(mask), sample_weights=torch.arange(1.0, 6.0))
    assert g.is_binary
    h = g.to_numpy()
    assert h.backend == "numpy" and h.shape == g.shape and h.bound == g.bound
    np.testing.assert_array_equal(h.mask, mask)
    np.testing.assert_allclose(h.sample_weights, np.arange(1.0, 6.0) / 15)
    lam = np.full(4, 0.25)
    assert h.risk(lam) == pytest.approx(g.risk(torch.from_numpy(lam)), abs=1e-15)
    assert h.view().is_binary and h.to_numpy() is h


def test_float64_pass_streams_chunks_of_a_float32_tensor():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    x = rng.random((600, 128, 128)).astype(np.float32)  # about 3 chunks of 2^22 entries
    mask = rng.random((600, 128)) < 0.9
    mask[:, 0] = True
    sw = rng.random(600)
    g = Game(torch.from_numpy(x), mask=torch.from_numpy(mask), sample_weights=sw)
    lam = rng.random(128)
    lam /= lam.sum()
    R, mx, jstar = g.view().risk_and_best_response_float64(lam)
    s = np.einsum("ijk,k->ij", x.astype(np.float64), lam)
    s[~mask] = -np.inf
    w = sw / sw.sum()
    np.testing.assert_allclose(mx, s.max(axis=1), rtol=1e-13)
    np.testing.assert_array_equal(jstar, s.argmax(axis=1))
    assert R == pytest.approx(w @ s.max(axis=1), rel=1e-13)


def test_the_lp_reads_games_only_through_the_view():
    for path in (SRC / "solvers" / "lp").glob("*.py"):
        text = path.read_text()
        assert not re.search(r"\b(game|g|view|gview)\._[a-z]", text), path
        assert "__dict__" not in text, path
    for path in (SRC / "game").glob("*.py"):
        text = path.read_text()
        assert "__dict__" not in text and "is_torch" not in text and 'nx.name ==' not in text, path
        assert "nx.torch" not in text, path
