"""The one validation layer: wrong type -> TypeError, wrong value -> ValueError, both
naming the argument."""

import math

import numpy as np
import pytest

from advgame import _validation as V


# ------------------------------------------------------------------ scalars
@pytest.mark.parametrize("bad", ["abc", None, True, np.bool_(False), 1 + 2j, [1.0]])
def test_real_wrong_type_is_type_error(bad):
    with pytest.raises(TypeError, match="tol must be a real number"):
        V.check_real("tol", bad, lo=0, lo_open=True)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_real_non_finite_is_value_error(bad):
    with pytest.raises(ValueError, match="tol must be a finite real number"):
        V.check_real("tol", bad, lo=0, lo_open=True)


def test_real_allow_inf_accepts_plus_inf_only():
    assert V.check_real("time_limit", math.inf, lo=0, lo_open=True, allow_inf=True) == math.inf
    with pytest.raises(ValueError):
        V.check_real("time_limit", -math.inf, allow_inf=True)


@pytest.mark.parametrize("value,lo,hi,lo_open,hi_open", [(0.0, 0, None, True, False), (1.0, None, 1, False, True),
                                                         (-1e-300, 0, None, False, False), (2.0, 0, 1, False, False)])
def test_real_out_of_range(value, lo, hi, lo_open, hi_open):
    with pytest.raises(ValueError, match="x must lie in"):
        V.check_real("x", value, lo=lo, hi=hi, lo_open=lo_open, hi_open=hi_open)


def test_real_accepts_numpy_scalars_and_ints():
    assert V.check_real("x", np.float32(0.5), lo=0) == 0.5
    assert isinstance(V.check_real("x", np.int64(3)), float)
    assert V.check_real("x", None, allow_none=True) is None


@pytest.mark.parametrize("bad", [1.7, 2.0, "x", True, None, np.float64(3.0)])
def test_int_wrong_type_is_type_error(bad):
    with pytest.raises(TypeError, match="max_iter must be an integer"):
        V.check_int("max_iter", bad, 1)


def test_int_range_and_numpy_ints():
    assert V.check_int("max_iter", np.int32(5), 1) == 5
    assert type(V.check_int("max_iter", np.int32(5), 1)) is int
    with pytest.raises(ValueError, match=r"max_iter must lie in \[1, inf\); got 0"):
        V.check_int("max_iter", 0, 1)
    with pytest.raises(ValueError):
        V.check_int("k", 11, 0, 10)


def test_bool_and_choice():
    assert V.check_bool("flag", np.bool_(True)) is True
    with pytest.raises(TypeError, match="flag must be True or False"):
        V.check_bool("flag", 1)
    assert V.check_choice("method", "lp", ("lp", "oracle")) == "lp"
    with pytest.raises(ValueError, match=r"method must be one of \('lp', 'oracle'\); got 'LP'"):
        V.check_choice("method", "LP", ("lp", "oracle"))
    with pytest.raises(ValueError):
        V.check_choice("method", ["unhashable"], ("lp",))


# -------------------------------------------------------------------- norms
@pytest.mark.parametrize("spelling,canon", [(1, "l1"), (2, "l2"), (2.0, "l2"), (math.inf, "linf"), (np.inf, "linf"),
                                            ("l1", "l1"), ("L2", "l2"), (" linf ", "linf"), ("inf", "linf"),
                                            ("2", "l2")])
def test_norm_vocabulary(spelling, canon):
    assert V.check_norm(spelling) == canon


def test_norm_errors():
    with pytest.raises(ValueError, match="norm must be one of"):
        V.check_norm("l3")
    with pytest.raises(ValueError, match="norm must be one of"):
        V.check_norm(3)  # a valid l_p norm, but not one of the three named ones
    with pytest.raises(TypeError, match="norm must be one of"):
        V.check_norm(True)
    with pytest.raises(ValueError, match=r"norm must be one of \('linf',\)"):
        V.check_norm("l2", allowed=("linf",))
    assert V.norm_exponent(3) == 3.0
    assert V.norm_exponent("linf") == math.inf
    with pytest.raises(ValueError, match="p >= 1"):
        V.norm_exponent(0.5)


# -------------------------------------------------------------------- seeds
def test_seed_rule():
    assert V.check_seed(None) is None
    assert V.check_seed(np.int64(3)) == 3
    g = np.random.default_rng(0)
    assert V.check_seed(g) is g
    assert V.check_rng(g) is g
    assert V.check_rng(5).random() == np.random.default_rng(5).random()
    with pytest.raises(TypeError, match="seed must be None, an int >= 0 or a numpy.random.Generator"):
        V.check_seed(1.5)
    with pytest.raises(TypeError):
        V.check_seed(True)
    with pytest.raises(ValueError):
        V.check_seed(-1)


def test_seed_rule_torch():
    torch = pytest.importorskip("torch")
    g = torch.Generator().manual_seed(0)
    assert V.check_seed(g, library="torch") is g
    with pytest.raises(TypeError, match="torch.Generator"):
        V.check_seed(np.random.default_rng(0), library="torch")
    with pytest.raises(TypeError, match="numpy.random.Generator"):
        V.check_seed(g)


# ------------------------------------------------------------------- arrays
def test_simplex_tol_by_dtype():
    assert V.simplex_tol(np.float64) == 1e-9
    assert V.simplex_tol(np.float32) == pytest.approx(1e3 * np.finfo(np.float32).eps)
    torch = pytest.importorskip("torch")
    assert V.simplex_tol(torch.float32) == pytest.approx(1e3 * np.finfo(np.float32).eps)


def test_check_simplex():
    w = V.check_simplex([0.25, 0.75], 2)
    assert w.dtype == np.float64 and w.sum() == 1.0
    w = V.check_simplex([1 + 1e-12, -1e-12], 2)  # rounding: cleaned onto the simplex
    assert (w >= 0).all() and w.sum() == 1.0
    with pytest.raises(ValueError, match="weights must lie on the probability simplex"):
        V.check_simplex([0.5, 0.6], 2)
    with pytest.raises(ValueError, match="weights must lie on the probability simplex"):
        V.check_simplex([1.5, -0.5], 2)
    with pytest.raises(ValueError, match=r"init must have shape \(3,\)"):
        V.check_simplex([0.5, 0.5], 3, name="init")
    with pytest.raises(ValueError, match="weights must be finite"):
        V.check_simplex([np.nan, 1.0], 2)
    with pytest.raises(TypeError, match="weights must hold real numbers"):
        V.check_simplex(["a", "b"], 2)


def test_check_sample_weights_huge_and_errors():
    raw, w = V.check_sample_weights([1e308] * 5, 5)
    assert np.allclose(w, 0.2) and np.isfinite(w).all()
    raw, w = V.check_sample_weights([1e-320, 3e-320], 2)  # subnormal: still normalizes
    assert np.allclose(w, [0.25, 0.75])
    with pytest.raises(ValueError, match="sample_weights must not all be zero"):
        V.check_sample_weights([0, 0], 2)
    with pytest.raises(ValueError, match="sample_weights must be non-negative; found -1 at index 1"):
        V.check_sample_weights([1, -1], 2)
    with pytest.raises(ValueError, match="sample_weights must be finite"):
        V.check_sample_weights([1, np.inf], 2)
    with pytest.raises(ValueError, match=r"sample_weights must have shape \(3,\)"):
        V.check_sample_weights([1, 1], 3)
    with pytest.raises(TypeError, match="sample_weights must hold real numbers"):
        V.check_sample_weights(np.array([1 + 1j, 1]), 2)


def test_check_array_refuses_masked_complex_and_meta():
    with pytest.raises(TypeError, match="masked arrays are refused"):
        V.check_array(np.ma.masked_array([1.0, 2.0], mask=[0, 1]), "losses")
    with pytest.raises(TypeError, match="must hold real numbers"):
        V.check_array(np.array([True]), "x")
    torch = pytest.importorskip("torch")
    with pytest.raises(TypeError, match="must hold real numbers"):
        V.check_array(torch.ones(2, dtype=torch.complex64), "sample_weights")
    with pytest.raises(TypeError, match="'meta' device"):
        V.check_array(torch.ones(2, device="meta"), "x")
    a = V.check_array(torch.arange(3, dtype=torch.float32), "x", lo=0, hi=2)
    assert a.dtype == np.float64 and a.tolist() == [0.0, 1.0, 2.0]
    with pytest.raises(ValueError, match=r"x must be <= 1; found 2 at index \(2,\)"):
        V.check_array([0, 1, 2], "x", hi=1)
    with pytest.raises(ValueError, match=r"x must have shape \(\?, 2\)"):
        V.check_array(np.zeros((2, 3)), "x", shape=(None, 2))
