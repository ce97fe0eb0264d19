"""Issue 16, item 5: MixtureSolver infers L, dtype and device from its first update,
checks its options in the constructor, and its warnings point at the caller."""

from __future__ import annotations

import warnings

import pytest

torch = pytest.importorskip("torch")

import advgame  # noqa: E402
from advgame.torch import MixtureSolver  # noqa: E402


def _losses(N=12, m=4, L=3, dtype=torch.float64, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand((N, m, L), generator=g, dtype=dtype)


@pytest.mark.parametrize("method", ["oracle", "entropic", "lp"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_l_dtype_device_inferred_from_the_first_update(method, dtype):
    s = MixtureSolver(method, max_iter=20) if method != "lp" else MixtureSolver(method)
    assert s.weights is None and s.L is None and s.device is None
    assert "not yet inferred" in repr(s)
    res = s.update(_losses(L=3, dtype=dtype))
    assert s.L == 3 and s.weights.dtype == dtype and s.device == torch.device("cpu")
    assert torch.allclose(s.weights.double(), torch.as_tensor(res.weights).double().cpu(), atol=1e-6)
    # the same as a solver told L=3 up front, in the same dtype
    t = MixtureSolver(method, weights=torch.full((3,), 1 / 3, dtype=dtype),
                      **({} if method == "lp" else {"max_iter": 20}))
    other = t.update(_losses(L=3, dtype=dtype))
    assert other.value == pytest.approx(res.value, abs=1e-6)
    with pytest.raises(ValueError, match="L = 3"):  # later updates are held to the inferred L
        s.update(_losses(L=4, dtype=dtype))


def test_inferred_weights_go_to_the_given_device():
    s = MixtureSolver("oracle", device="cpu", max_iter=5)
    assert s.device == torch.device("cpu") and s.weights is None
    s.update(_losses())
    assert s.weights.device == torch.device("cpu")


def test_oracle_update_before_inference_says_what_to_do():
    s = MixtureSolver("oracle")
    with pytest.raises(ValueError, match="infers L from its first loss tensor"):
        s.update(oracle=lambda w: w)


def test_state_dict_round_trip_into_a_solver_without_l():
    a = MixtureSolver("entropic", max_iter=10)
    a.update(_losses())
    b = MixtureSolver("entropic").load_state_dict(a.state_dict())
    assert b.L == 3 and torch.equal(b.weights, a.weights) and b.updates == 1


@pytest.mark.parametrize("kwargs,exc,match", [
    (dict(method="oracle", max_iter=0), ValueError, "max_iter"),
    (dict(method="oracle", max_iter=2.5), TypeError, "max_iter"),
    (dict(method="entropic", temperature=-1.0), ValueError, "temperature"),
    (dict(method="oracle", step_size=0.0), ValueError, "step_size"),
    (dict(method="lp", tol=-1e-3), ValueError, "tol"),
    (dict(method="oracle", time_limit=0), ValueError, "time_limit"),
    (dict(method="oracle", callback=3), TypeError, "callback"),
    (dict(method="oracle", temperature=0.1), TypeError, "temperature"),  # an option of entropic only
    (dict(method="entropic", max_iters=10), TypeError, "max_iter"),  # a typo: did you mean max_iter?
])
def test_options_checked_in_the_constructor(kwargs, exc, match):
    """Before issue 16 these were accepted and failed at the first update."""
    with pytest.raises(exc, match=match):
        MixtureSolver(L=2, **kwargs)
    with pytest.raises(exc, match=match):
        MixtureSolver(**kwargs)  # also without L


def test_update_warnings_point_at_the_caller():
    s = MixtureSolver("oracle", L=3, max_iter=2, tol=1e-12)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        s.update(_losses())  # the line the warning must name
    solver_warnings = [w for w in caught if issubclass(w.category, advgame.SolverWarning)]
    assert solver_warnings, [str(w.message) for w in caught]
    assert all(w.filename == __file__ for w in solver_warnings), [w.filename for w in solver_warnings]


def test_update_warnings_follow_the_users_filters():
    s = MixtureSolver("oracle", L=3, max_iter=2, tol=1e-12)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warnings.simplefilter("ignore", advgame.SolverWarning)
        s.update(_losses())
    assert not [w for w in caught if issubclass(w.category, advgame.SolverWarning)]
