"""benchmarks/gpu.py, the device benchmark of training (issue 18), run small on the CPU
(``--quick``) so that the script the first GPU run depends on never rots."""

import json
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import gpu  # noqa: E402


@pytest.mark.slow  # about a minute on a loaded 2-core CPU: every case, eager and compiled
def test_quick_run_covers_every_case(tmp_path):
    out_json, out_table = tmp_path / "r.json", tmp_path / "r.md"
    res = gpu.main(["--quick", "--device", "cpu", "--models", "2", "--steps", "1", "--peak-tflops", "1",
                    "--bandwidth-gbs", "10", "--json", str(out_json), "--table", str(out_table)])
    saved = json.loads(out_json.read_text())
    assert saved["training"] == json.loads(json.dumps(res["training"]))
    cases = {(r["case"], r["precision"], r["compile"]) for r in res["training"]}
    assert cases == {(c, p, k) for c in ("standard", "at", "alg2-L2") for p in ("fp32", "bf16")
                     for k in (False, True)}
    assert not res["skipped"]
    for r in res["training"]:
        assert r["images_per_s"] > 0 and r["epoch_s"] == pytest.approx(r["step_s"] * -(-50000 // 8))
        assert r["tflops_per_s"] > 0 and r["mfu"] == pytest.approx(r["tflops_per_s"] / 1.0)  # peak 1 TFLOP/s
        assert (r.get("alg2_over_L_at") is not None) == r["case"].startswith("alg2")
    att = res["attack"]
    assert {"advgame PGD", "PGD L=3 looped", "PGD L=3 vmap"} <= set(att) and att["vmap_speedup_L3"] > 0
    for method in ("entropic", "oracle"):
        s = res["solvers"][method]
        assert s["iteration_s"] > 0 and s["bandwidth_fraction"] > 0
    assert res["solvers"]["nominal_pass_s"] == pytest.approx(200 * 20 * 4 * 4 / 10e9)
    table = out_table.read_text()
    assert "alg2-L2" in table and "entropic" in table and "MFU" in table


def test_budget_skips_compiled_cases(tmp_path):
    res = gpu.main(["--quick", "--device", "cpu", "--models", "2", "--steps", "1", "--precisions", "fp32",
                    "--budget-s", "0", "--json", "", "--table", ""])
    assert all(not r["compile"] for r in res["training"])
    assert res["skipped"] == ["fp32 compile (budget of 0 s spent)"]
    assert res["training"][0]["mfu"] is None  # no peak known for a CPU
    lp = res["lp"]  # the exact solver's device path against the host path (issue 21, item 6)
    assert lp["N"] == 100
    for loss, strategy in (("01", "prune"), ("sigmoid", "cg")):
        r = lp[loss]
        assert r["strategy"] == strategy and r["path"] == "cpu" and r["status"] == ["optimal", "optimal"]
        assert r["weights_diff"] <= 1e-12 and r["value_diff"] <= 1e-12
        assert r["device_x_pass"] == pytest.approx(r["device_solve_s"] / r["pass_s"])
        assert r["device_over_host"] == pytest.approx(r["device_solve_s"] / r["host_solve_s"])
    assert lp["01"]["device_scan_x_pass"] > 0 and lp["01"]["device_float64_pass_x_pass"] > 0
    assert "device_scan_s" not in lp["sigmoid"]
    assert "exact LP, MNE21-like N = 100" in gpu.table(res)


def test_step_flops_composition():
    from advgame.torch.models import build_model

    m = build_model("small-cnn", 10, (3, 32, 32), seed=0).eval()
    x, y = torch.rand(4, 3, 32, 32), torch.randint(0, 10, (4,))
    fl = gpu.step_flops(m, x, y, steps=3, models=[2, 3])
    assert 0 < fl["standard"] < fl["at"] < fl["alg2-L2"] < fl["alg2-L3"]
    # each extra member adds one PGD's worth of iterations: the difference is constant
    assert fl["alg2-L3"] - fl["alg2-L2"] == fl["alg2-L2"] - fl["at"]
    assert all(p.requires_grad for p in m.parameters()) and not m.training


def test_device_peaks():
    cpu = gpu.device_peaks(torch.device("cpu"))
    assert cpu["bf16"] is None and cpu["fp32"] is None and cpu["bandwidth"] is None
    forced = gpu.device_peaks(torch.device("cpu"), peak_tflops=2.0, bandwidth_gbs=3.0)
    assert forced["bf16"] == forced["fp32"] == 2e12 and forced["bandwidth"] == 3e9


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_device_known_or_overridable():
    peaks = gpu.device_peaks(torch.device("cuda"), peak_tflops=1.0, bandwidth_gbs=1.0)
    assert peaks["name"] == torch.cuda.get_device_name()
