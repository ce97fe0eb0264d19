"""advgame.torch.MixtureSolver: weight updates of a training loop by the core solvers."""

from __future__ import annotations

import inspect
import runpy
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import advgame  # noqa: E402
import advgame.torch  # noqa: E402
from advgame.solvers.entropic import solve_entropic  # noqa: E402
from advgame.solvers.lp import solve_lp  # noqa: E402
from advgame.solvers.oracle import solve_oracle  # noqa: E402
from advgame.torch import PGD, Mixture, attack_oracle, candidate_losses  # noqa: E402
from advgame.torch.models import SmallMLP, synthetic_images  # noqa: E402
from advgame.torch.solver import MixtureSolver  # noqa: E402

SNIPPET = Path(__file__).resolve().parents[1] / "docs" / "snippets" / "mixture_solver.py"


def _accepts(fn, *names):
    params = inspect.signature(fn).parameters
    return all(n in params for n in names)


# Warm starts (init=) and max_iter= come with the first-order driver (branch fo) and the LP's
# warm start (branch lp); until both are in main these tests skip.
HAS_FO_API = _accepts(solve_oracle, "init", "max_iter") and _accepts(solve_entropic, "init", "max_iter")
HAS_LP_INIT = _accepts(solve_lp, "init")
needs_fo = pytest.mark.skipif(not HAS_FO_API, reason="solve(method='oracle'|'entropic') has no init=/max_iter= yet")
needs_lp = pytest.mark.skipif(not HAS_LP_INIT, reason="solve(method='lp') has no init= yet")

OPTS = {"oracle": {"max_iter": 50}, "entropic": {"max_iter": 50, "temperature": 0.01}, "lp": {}}
METHOD_MARKS = {"oracle": needs_fo, "entropic": needs_fo, "lp": needs_lp}


def _methods():
    return [pytest.param(m, marks=METHOD_MARKS[m]) for m in ("oracle", "entropic", "lp")]


def _losses(N=20, m=5, L=3, seed=0, dtype=torch.float64):
    return torch.rand((N, m, L), generator=torch.Generator().manual_seed(seed), dtype=dtype)


def _mixture(L=3, seed=0):
    torch.manual_seed(seed)
    return Mixture([SmallMLP(12, 3, hidden=8) for _ in range(L)])


# ------------------------------------------------------------------ construction
def test_weights_are_the_mixtures_buffer():
    mix = _mixture()
    solver = MixtureSolver("oracle", mix)
    assert solver.weights is mix.weights
    assert solver.L == 3 and solver.device == mix.weights.device and solver.updates == 0
    assert solver.last_result is None and "oracle" in repr(solver)


def test_weights_without_a_mixture():
    s = MixtureSolver("lp", weights=[0.25, 0.75])
    assert s.weights.tolist() == [0.25, 0.75] and s.weights.dtype == torch.get_default_dtype()
    s = MixtureSolver("entropic", weights=torch.tensor([0.5, 0.5], dtype=torch.float64))
    assert s.weights.dtype == torch.float64
    s = MixtureSolver(L=4, device="cpu")
    assert torch.allclose(s.weights, torch.full((4,), 0.25)) and s.method == "oracle"


@pytest.mark.parametrize("kwargs,exc,match", [
    (dict(method="sgd", L=2), ValueError, "method must be one of"),
    (dict(max_iter=0), ValueError, "max_iter"),
    (dict(L=0), ValueError, "L must lie"),
    (dict(L=2.0), TypeError, "L must be an integer"),
    (dict(weights=[0.7, 0.7]), ValueError, "simplex"),
    (dict(weights=[0.5, 0.5], L=3), ValueError, "L must equal"),
    (dict(L=2, init=[0.5, 0.5]), TypeError, "init= is set by MixtureSolver"),
    (dict(L=2, oracle=lambda w: w), TypeError, "oracle= is set by MixtureSolver"),
    (dict(L=2, distributed="yes"), TypeError, "distributed"),
    (dict(method="lp", L=2, distributed=True), ValueError, "distributed=True applies"),
    (dict(mixture=torch.nn.Linear(2, 2)), TypeError, "Mixture"),
])
def test_construction_errors(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        MixtureSolver(**kwargs)


def test_construction_errors_with_a_mixture():
    mix = _mixture()
    with pytest.raises(ValueError, match="not both"):
        MixtureSolver("oracle", mix, weights=[1 / 3] * 3)
    with pytest.raises(ValueError, match="L must equal"):
        MixtureSolver("oracle", mix, L=2)
    with pytest.raises(ValueError, match="device must be the mixture's device"):
        MixtureSolver("oracle", mix, device="meta")


def test_update_argument_errors():
    s = MixtureSolver("entropic", L=3)
    with pytest.raises(TypeError, match="needs a loss tensor"):
        s.update()
    with pytest.raises(TypeError, match="torch.Tensor"):
        s.update(np.zeros((2, 2, 3)))
    with pytest.raises(ValueError, match="L = 3"):
        s.update(torch.zeros((2, 2, 4)))
    with pytest.raises(ValueError, match="need method='oracle'"):
        s.update(oracle=lambda w: w)
    with pytest.raises(TypeError, match="callable"):
        MixtureSolver("oracle", L=3).update(oracle=3)
    with pytest.raises(ValueError, match="pass losses with them"):
        MixtureSolver("oracle", L=3).update(oracle=lambda w: w, sample_weights=[1.0])
    with pytest.raises(TypeError, match="init= is set by MixtureSolver"):
        s.update(torch.zeros((2, 2, 3)), init=[1, 0, 0])
    assert s.updates == 0 and s.last_result is None


# ------------------------------------------------------------------ state
def test_state_dict_round_trip_through_torch_load(tmp_path):
    cb = lambda state: False  # noqa: E731
    s = MixtureSolver("entropic", weights=[0.2, 0.3, 0.5], tol=1e-3, temperature=0.05, callback=cb)
    s.updates = 7
    state = s.state_dict()
    assert set(state) == {"weights", "method", "options", "updates"}
    assert "callback" not in state["options"]  # not a plain value: not saved
    torch.save(state, tmp_path / "s.pt")
    loaded = torch.load(tmp_path / "s.pt", weights_only=True)
    mix = _mixture()
    other = MixtureSolver("oracle", mix, callback=cb)
    other.load_state_dict(loaded)
    assert other.method == "entropic" and other.updates == 7
    assert other.options == {"callback": cb, "tol": 1e-3, "temperature": 0.05}
    assert torch.allclose(mix.weights, torch.tensor([0.2, 0.3, 0.5]))  # written into the mixture


@pytest.mark.parametrize("state,exc,match", [
    ([1, 2], TypeError, "state must be a dict"),
    ({"weights": torch.ones(3) / 3}, ValueError, "missing"),
    ({"weights": torch.ones(2) / 2, "method": "lp", "options": {}, "updates": 0}, ValueError, "shape"),
    ({"weights": torch.ones(3) / 3, "method": "xx", "options": {}, "updates": 0}, ValueError, "method"),
    ({"weights": torch.ones(3) / 3, "method": "lp", "options": [], "updates": 0}, TypeError, "options"),
    ({"weights": torch.ones(3) / 3, "method": "lp", "options": {}, "updates": -1}, ValueError, "updates"),
    ({"weights": torch.ones(3) / 3, "method": "lp", "options": {"distributed": True}, "updates": 0}, ValueError,
     "distributed=True applies"),
])
def test_load_state_dict_errors(state, exc, match):
    s = MixtureSolver("oracle", L=3)
    with pytest.raises(exc, match=match):
        s.load_state_dict(state)
    assert s.method == "oracle" and s.updates == 0  # unchanged by a refused state


# ------------------------------------------------------------------ updates (need init=)
@pytest.mark.parametrize("method", _methods())
def test_update_is_a_warm_started_solve(method):
    mix = _mixture()
    mix.set_weights([0.5, 0.3, 0.2])
    solver = MixtureSolver(method, mix, **OPTS[method])
    prev = mix.weights.detach().clone()
    for step in range(2):
        losses = _losses(seed=step)
        res = solver.update(losses)
        init = prev.double() / prev.double().sum()  # the float32 buffer, renormalized in float64 as the solver does
        ref = advgame.solve(advgame.Game(losses), method=method, init=init, **OPTS[method])
        assert torch.allclose(torch.as_tensor(res.weights), torch.as_tensor(ref.weights), atol=1e-12, rtol=0)
        assert res.value == pytest.approx(ref.value, abs=1e-12) and res.gap == pytest.approx(ref.gap, abs=1e-12)
        assert torch.allclose(mix.weights, torch.as_tensor(ref.weights).float())  # written into the mixture
        assert res.gap >= 0 and res.value >= res.lower_bound
        prev = mix.weights.detach().clone()
    assert solver.updates == 2 and solver.last_result is res
    assert mix.weights.dtype == torch.float32  # the buffer keeps its dtype


@needs_lp
def test_lp_update_gives_the_games_optimum():
    losses = torch.tensor([[[1.0, 0.0], [0.0, 1.0]]] * 3)  # matching pennies: the optimum is (1/2, 1/2)
    s = MixtureSolver("lp", weights=[0.9, 0.1])
    res = s.update(losses)
    assert torch.allclose(s.weights, torch.tensor([0.5, 0.5])) and res.value == pytest.approx(0.5)


@needs_fo
def test_update_with_mask_and_sample_weights():
    losses = _losses()
    mask = torch.ones((20, 5), dtype=torch.bool)
    mask[:, 3:] = False
    sw = torch.arange(1, 21, dtype=torch.float64)
    s = MixtureSolver("oracle", L=3, max_iter=30)
    res = s.update(losses, mask=mask, sample_weights=sw)
    ref = advgame.solve(advgame.Game(losses, mask=mask, sample_weights=sw), method="oracle",
                        init=torch.full((3,), 1 / 3, dtype=torch.float64), max_iter=30)
    assert res.value == pytest.approx(ref.value, abs=1e-6)


@needs_fo
def test_per_update_option_override():
    s = MixtureSolver("oracle", L=3, max_iter=50)
    res = s.update(_losses(), max_iter=3)
    assert res.nit == 3 and s.options["max_iter"] == 50


@needs_fo
def test_update_with_an_attack_oracle():
    x, y = synthetic_images(24, shape=(3, 2, 2), n_classes=3, seed=1)
    mix = _mixture()
    oracle = attack_oracle(mix, x, y, PGD(eps=0.2, steps=3), loss="ce", bound=5.0)
    solver = MixtureSolver("oracle", mix, max_iter=4)
    res = solver.update(oracle=oracle)
    assert oracle.calls == 4 and res.nit == 4
    assert res.info["step_size"] == pytest.approx(2 / (5.0 * np.sqrt(3 * 4)))  # M from the oracle's bound
    assert "game_risk" not in res.info
    assert torch.allclose(mix.weights, torch.as_tensor(res.weights).float())
    # the same run by hand: Alg. 1 from the uniform weights with this oracle
    oracle2 = attack_oracle(mix, x, y, PGD(eps=0.2, steps=3), loss="ce", bound=5.0)
    ref = advgame.solve(advgame.Game(torch.zeros((1, 1, 3)), bound=5.0), method="oracle", oracle=oracle2,
                        init=torch.full((3,), 1 / 3), max_iter=4)
    assert torch.allclose(torch.as_tensor(res.weights), torch.as_tensor(ref.weights))


@needs_fo
def test_candidate_losses_update_on_a_mixture():
    x, y = synthetic_images(16, shape=(3, 2, 2), n_classes=3, seed=2)
    mix = _mixture()
    losses = candidate_losses(mix, x, y, PGD(eps=0.2, steps=3))
    res = MixtureSolver("oracle", mix, max_iter=100).update(losses)
    assert losses.shape == (16, 1 + 1 * 4, 3)
    assert float(mix.weights.sum()) == pytest.approx(1.0, abs=1e-6) and res.gap >= 0


@needs_fo
def test_resume_from_state_dict_is_exact(tmp_path):
    a = MixtureSolver("entropic", L=3, **OPTS["entropic"])
    a.update(_losses(seed=0))
    torch.save(a.state_dict(), tmp_path / "a.pt")
    a.update(_losses(seed=1))
    b = MixtureSolver("entropic", L=3).load_state_dict(torch.load(tmp_path / "a.pt", weights_only=True))
    b.update(_losses(seed=1))
    assert torch.equal(a.weights, b.weights) and b.updates == 2


@needs_fo
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_update_runs_on_the_weights_device():
    s = MixtureSolver("oracle", L=3, device="cuda", max_iter=20)
    res = s.update(_losses())  # a CPU tensor: moved to the weights' device
    assert s.weights.device.type == "cuda" and torch.as_tensor(res.weights).device.type == "cuda"


@needs_fo
@pytest.mark.slow
@pytest.mark.parametrize("method", ["oracle", "entropic"])
def test_distributed_ranks_end_with_identical_weights(tmp_path, method):
    import torch.multiprocessing as mp

    from _mixture_solver_worker import run, shard_losses

    opts = OPTS[method]
    mp.spawn(run, args=(2, str(tmp_path / "init"), str(tmp_path / "res"), method, opts), nprocs=2, join=True)
    r0 = torch.load(f"{tmp_path / 'res'}.0.pt", weights_only=True)
    r1 = torch.load(f"{tmp_path / 'res'}.1.pt", weights_only=True)
    assert torch.equal(r0["weights"], r1["weights"])
    # ... and equal to one process updating on the whole batch
    single = MixtureSolver(method, L=3, weights=torch.tensor([0.6, 0.3, 0.1], dtype=torch.float64), **opts)
    for _ in range(2):
        res = single.update(shard_losses())
    assert torch.allclose(r0["weights"], single.weights, atol=1e-9, rtol=0)
    assert r0["value"] == pytest.approx(res.value, abs=1e-9)


@needs_fo
@pytest.mark.slow
@pytest.mark.skipif(not hasattr(advgame.torch, "MixtureSolver"), reason="advgame.torch does not export MixtureSolver yet")
def test_readme_snippet_runs():
    readme = (SNIPPET.parents[2] / "README.md").read_text()
    code = SNIPPET.read_text().split("\n", 1)[1].rstrip()  # the file less its docstring line
    assert "```python\n" + code + "\n```" in readme, "README's MixtureSolver snippet differs from " + str(SNIPPET)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny convolutions: one thread is fastest on a shared machine
    try:
        ns = runpy.run_path(str(SNIPPET), run_name="__main__")
    finally:
        torch.set_num_threads(threads)
    mixture, solver, result = ns["mixture"], ns["solver"], ns["result"]
    assert solver.updates == 2 * len(ns["loader"]) and solver.weights is mixture.weights
    assert float(mixture.weights.min()) >= 0 and float(mixture.weights.sum()) == pytest.approx(1.0, abs=1e-6)
    assert result.gap >= 0 and result.nit >= 1
