"""The backend contract (advgame.backend): every operation on numpy, torch CPU
(float64, float32) and CUDA where present, in the manner of POT's test/test_backend.py."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from advgame.backend import NumpyBackend, TorchBackend, get_backend, is_torch

HAS_TORCH = importlib.util.find_spec("torch") is not None


def _has_cuda():
    if not HAS_TORCH:
        return False
    import torch

    return torch.cuda.is_available()


_KINDS = [("numpy", "float64")]
if HAS_TORCH:
    _KINDS += [("cpu", "float64"), ("cpu", "float32")]
    _KINDS += [pytest.param(("cuda", dt), marks=pytest.mark.skipif(not _has_cuda(), reason="no CUDA device"))
               for dt in ("float64", "float32")]


class Arrays:
    """Makes test arrays for one (library, device, dtype) and reads them back."""

    def __init__(self, device, dtype):
        self.device, self.dtype_name = device, dtype
        self.torch = device != "numpy"
        if self.torch:
            import torch

            self.t = torch
            self.dtype = getattr(torch, dtype)
            self.atol = 1e-5 if dtype == "float32" else 1e-12
        else:
            self.atol = 1e-12
        self.nx = get_backend(self(np.zeros(1)))

    def __call__(self, x, float_=True):
        x = np.asarray(x)
        if not self.torch:
            return x
        t = self.t.from_numpy(np.ascontiguousarray(x))
        if float_ and x.dtype.kind == "f":
            t = t.to(self.dtype)
        return t.to(self.device)

    def np(self, x):
        return x.detach().cpu().numpy() if hasattr(x, "detach") else np.asarray(x)

    def same_place(self, x):
        """``x`` lives on this library, device and dtype."""
        assert is_torch(x) == self.torch
        if self.torch:
            assert x.device.type == self.device and x.dtype == self.dtype
        else:
            assert x.dtype == np.float64


@pytest.fixture(params=_KINDS, ids=lambda k: "-".join(k))
def ar(request):
    return Arrays(*request.param)


RNG = np.random.default_rng(0)
V = np.array([0.3, -1.2, 2.5, 0.0, 0.7])
M = RNG.random((3, 4))


def close(ar, got, want):
    np.testing.assert_allclose(ar.np(got), want, atol=ar.atol, rtol=1e-6 if ar.dtype_name == "float32" else 1e-12)


# ---------------------------------------------------------------- dispatch
def test_get_backend_and_is_torch(ar):
    x = ar(V)
    nx = get_backend(x)
    assert isinstance(nx, TorchBackend if ar.torch else NumpyBackend)
    assert is_torch(x) == ar.torch
    assert get_backend(x, None, x) is nx


def test_get_backend_refuses_a_mix():
    torch = pytest.importorskip("torch")
    with pytest.raises(TypeError, match="mix numpy and torch"):
        get_backend(np.zeros(2), torch.zeros(2))


def test_both_backends_have_the_same_documented_operations():
    pytest.importorskip("torch")
    public = {n for n in vars(NumpyBackend) if not n.startswith("_") and callable(getattr(NumpyBackend, n))}
    torch_public = {n for n in vars(TorchBackend) if not n.startswith("_") and callable(getattr(TorchBackend, n))}
    assert public == torch_public
    for n in public:
        assert getattr(NumpyBackend, n).__doc__, n
        assert getattr(TorchBackend, n).__doc__, n


# ------------------------------------------------------------ construction
def test_asarray_and_numpy_round_trip(ar):
    nx, x = ar.nx, ar(V)
    assert nx.asarray(x) is x
    y = nx.asarray([1.0, 2.0], type_as=x)
    ar.same_place(y)
    close(ar, y, [1.0, 2.0])
    assert isinstance(nx.to_numpy(x), np.ndarray)
    close(ar, nx.to_numpy(x), V)
    z = nx.from_numpy(np.array([4.0, 5.0]), type_as=x)
    ar.same_place(z)
    close(ar, z, [4.0, 5.0])


def test_zeros_full_arange_copy_empty_like(ar):
    nx, x = ar.nx, ar(V)
    z = nx.zeros((2, 3), type_as=x)
    ar.same_place(z)
    close(ar, z, np.zeros((2, 3)))
    f = nx.full((4,), 0.25, type_as=x)
    ar.same_place(f)
    close(ar, f, np.full(4, 0.25))
    a = nx.arange(5, like=x)
    np.testing.assert_array_equal(ar.np(a), np.arange(5))
    assert nx.device(a) == nx.device(x)
    c = nx.copy(x)
    c[0] = 99.0
    close(ar, x, V)  # the copy is independent
    e = nx.empty_like(x)
    ar.same_place(e)
    assert tuple(e.shape) == V.shape


# ------------------------------------------------------------------ dtypes
def test_float64_astype_is_floating_and_limits(ar):
    nx, x = ar.nx, ar(V)
    x64 = nx.float64(x)
    assert nx.dtype_name(x64) == "float64"
    close(ar, x64, V)
    back = nx.astype(x64, x)
    ar.same_place(back)
    i = ar(np.array([1, 2]), float_=False)
    assert nx.is_floating(x) and not nx.is_floating(i)
    assert nx.dtype_name(x) == ar.dtype_name
    info = np.finfo(ar.dtype_name)
    assert nx.eps(x) == float(info.eps)
    assert nx.dtype_max(x) == float(info.max)
    assert str(nx.device(x)) == ("cpu" if ar.device == "numpy" else str(x.device))


# -------------------------------------------------------------- reductions
def test_reductions(ar):
    nx, s = ar.nx, ar(M)
    val, idx = nx.max_argmax(s, axis=1)
    close(ar, val, M.max(axis=1))
    np.testing.assert_array_equal(ar.np(idx), M.argmax(axis=1))
    close(ar, nx.max(s), M.max())
    close(ar, nx.max(s, axis=0), M.max(axis=0))
    close(ar, nx.min(s), M.min())
    close(ar, nx.min(s, axis=1), M.min(axis=1))
    assert nx.argmin(ar(V)) == 1 and isinstance(nx.argmin(ar(V)), int)
    close(ar, nx.sum(s), M.sum())
    close(ar, nx.sum(s, axis=1), M.sum(axis=1))
    close(ar, nx.cumsum(ar(V)), np.cumsum(V))
    close(ar, nx.sort_desc(ar(V)), np.sort(V)[::-1])
    assert nx.all_finite(s) and not nx.all_finite(ar(np.array([1.0, np.inf])))
    assert not nx.all_finite(ar(np.array([np.nan])))
    sc = nx.scalar(nx.sum(s))
    assert isinstance(sc, float) and sc == pytest.approx(M.sum(), rel=1e-6)


def test_max_argmax_takes_the_first_maximum_on_ties(ar):
    val, idx = ar.nx.max_argmax(ar(np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]])), axis=1)
    np.testing.assert_array_equal(ar.np(idx), [1, 0])


# ------------------------------------------------------------- elementwise
def test_elementwise(ar):
    nx, x = ar.nx, ar(M)
    close(ar, nx.exp(x), np.exp(M))
    out = nx.empty_like(x)
    assert nx.exp(x, out=out) is out
    close(ar, out, np.exp(M))
    close(ar, nx.log(x + 1.0), np.log(M + 1.0))
    close(ar, nx.sqrt(x), np.sqrt(M))
    b = ar(M[0])
    close(ar, nx.add(x, b), M + M[0])
    close(ar, nx.subtract(x, b), M - M[0])
    out = nx.empty_like(x)
    nx.add(x, b, out=out)
    close(ar, out, M + M[0])
    nx.subtract(x, b, out=out)
    close(ar, out, M - M[0])
    v = ar(V)
    close(ar, nx.clip_min(v, 0.0), np.maximum(V, 0.0))
    close(ar, v, V)  # clip_min does not write into its input
    assert nx.clip_min_(v, 0.0) is v
    close(ar, v, np.maximum(V, 0.0))
    c = ar(V) > 0
    close(ar, nx.where(c, ar(V), ar(np.zeros(5))), np.where(V > 0, V, 0.0))


def test_matmul(ar):
    nx = ar.nx
    A, w = RNG.random((4, 6)), RNG.random(4)
    close(ar, nx.matmul(ar(A), ar(A.T)), A @ A.T)
    close(ar, nx.matmul(ar(w), ar(A)), w @ A)
    out = nx.zeros((6,), type_as=ar(w))
    assert nx.matmul(ar(w), ar(A), out=out) is out  # vector @ matrix into a buffer
    close(ar, out, w @ A)


# ---------------------------------------------------------------- assembly
def test_stack_and_concatenate(ar):
    nx, x = ar.nx, ar(V)
    s = nx.stack([nx.sum(x), nx.max(x)])
    close(ar, s, [V.sum(), V.max()])
    assert tuple(s.shape) == (2,)
    c = nx.concatenate([s, x])
    close(ar, c, np.concatenate([[V.sum(), V.max()], V]))


# -------------------------------------------------------- gathers/scatters
def test_gather_rows_and_add_at(ar):
    nx = ar.nx
    F = RNG.random((3, 4, 5))  # (L, N, m)
    j = np.array([0, 4, 2, 2])
    got = nx.gather_rows(ar(F), ar(j, float_=False))
    close(ar, got, F[:, np.arange(4), j])
    flat = nx.zeros((6,), type_as=ar(V))
    nx.add_at(flat, ar(np.array([1, 3, 4]), float_=False), 1.0)
    close(ar, flat, [0, 1, 0, 1, 1, 0])


# -------------------------------------------------------------- algorithms
@pytest.mark.parametrize("v", [V, np.array([5.0]), np.array([0.2, 0.2, 0.2, 0.2, 0.2]), np.array([1e3, -1e3, 999.5])])
def test_proj_simplex_matches_the_definition(ar, v):
    p = ar.np(ar.nx.proj_simplex(ar(v)))
    ar.same_place(ar.nx.proj_simplex(ar(v)))
    assert p.min() >= 0 and abs(p.sum() - 1) <= 10 * ar.atol
    # KKT: p = max(v - tau, 0)
    supp = p > 0
    tau = (v - p)[supp]
    np.testing.assert_allclose(tau, tau.mean(), atol=max(1e-9, 1e-6 * np.abs(v).max()) if ar.atol > 1e-9 else 1e-9)


@pytest.mark.parametrize("v,want", [([1e16, 0.0], [1.0, 0.0]), ([1e30, 1e30, -1e30], [0.5, 0.5, 0.0]),
                                    ([-1e30, 2e30], [0.0, 1.0]), ([1e-300, 0.0], [0.5, 0.5])])
def test_proj_simplex_on_extreme_inputs(ar, v, want):
    """Regression (issue 9, section 1): large inputs gave [0, 0] or NaN."""
    p = ar.nx.proj_simplex(ar(np.array(v)))
    close(ar, p, want)
    if ar.torch:  # both torch paths on any device: host-branching and sync-free
        close(ar, ar.nx._proj_host(ar(np.array(v))), want)
        close(ar, ar.nx._proj_device(ar(np.array(v))), want)


def test_torch_paths_agree_bitwise_on_ordinary_inputs():
    torch = pytest.importorskip("torch")
    nx = get_backend(torch.zeros(1))
    rng = np.random.default_rng(3)
    for dt in (torch.float64, torch.float32):
        for _ in range(20):
            v = torch.from_numpy(rng.normal(size=7) * 3).to(dt)
            assert torch.equal(nx._proj_host(v), nx._proj_device(v))


def test_proj_simplex_beyond_float32_range():
    p = get_backend(np.zeros(1)).proj_simplex(np.array([1e308, -1e308, 1e308]))
    np.testing.assert_allclose(p, [0.5, 0.0, 0.5])


@pytest.fixture
def process_group(tmp_path):
    torch = pytest.importorskip("torch")
    dist = torch.distributed
    if not dist.is_available():
        pytest.skip("torch.distributed unavailable")
    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'pg'}", rank=0, world_size=1)
    try:
        yield dist
    finally:
        dist.destroy_process_group()


def test_all_reduce(process_group):
    for ar in (Arrays("numpy", "float64"), Arrays("cpu", "float64"), Arrays("cpu", "float32")):
        x = ar(V)
        got = ar.nx.all_reduce(x, 2.0)
        ar.same_place(got)
        close(ar, got, 2.0 * V)  # one rank: the sum is the (scaled) input
        close(ar, x, V)
