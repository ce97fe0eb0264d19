"""advgame study (issue 20, item 1): a tiny study end to end, resumable, with its report."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")

from advgame.torch.study import load_study, paired_bootstrap, parse_study, run_study  # noqa: E402

TINY = """
name = "tiny"
dataset = "digits"
seeds = [0, 1]
eps = [0.1, 0.3]
epochs = 1
suite = ""
eval_attacks = ["pgd-logits"]
eval_samples = 40
bootstrap = 200
[defaults]
batch_size = 256
eval_samples = 40
eval_steps = 2
attack_steps = 1
[[methods]]
name = "AT"
algo = "at"
[[methods]]
name = "Alg. 2, L = 2"
algo = "mixture"
models = 2
"""


@pytest.fixture(scope="module")
def tiny_study(tmp_path_factory):
    folder = tmp_path_factory.mktemp("study")
    path = folder / "tiny.toml"
    path.write_text(TINY)
    spec = load_study(path)
    logs = []
    report = run_study(spec, folder / "out", log=logs.append)
    return spec, folder, report, logs


def test_every_cell_is_trained_evaluated_and_reported(tiny_study):
    spec, folder, report, logs = tiny_study
    assert len(logs) == 8 and len(spec.cells()) == 8
    out = folder / "out"
    for name in ("report.md", "report.json", "accuracy_vs_epochs.png", "accuracy_vs_epochs.pdf",
                 "worst_vs_eps.png", "worst_vs_eps.pdf"):
        assert (out / name).stat().st_size > 0
    data = json.loads((out / "report.json").read_text())
    assert {(r["method"], r["eps"]) for r in data["rows"]} == {(m, e) for m in ("AT", "Alg. 2, L = 2")
                                                             for e in (0.1, 0.3)}
    # the table's numbers are the cells' numbers
    cells = [json.loads(p.read_text()) for p in (out / "cells").rglob("result.json")]
    assert len(cells) == 8
    for row in data["rows"]:
        worst = [c["worst"] for c in cells if c["method"] == row["method"] and c["eps"] == row["eps"]]
        assert row["worst_mean"] == pytest.approx(np.mean(worst))
        assert row["worst_std"] == pytest.approx(np.std(worst, ddof=1))
    for c in cells:
        assert c["train_cpu_seconds"] > 0  # trained in one go: its CPU seconds are known
        assert len(c["per_example_worst"]) == 40
        assert c["worst"] == pytest.approx(np.mean(c["per_example_worst"]))
        assert c["worst"] <= c["natural"] + 1e-12
    assert [d["method"] for d in data["differences"]] == ["Alg. 2, L = 2", "Alg. 2, L = 2"]
    for d in data["differences"]:
        assert d["ci_low"] <= d["difference"] <= d["ci_high"]
    for row in data["rows"]:
        cpu = [c["train_cpu_seconds"] for c in cells if c["method"] == row["method"] and c["eps"] == row["eps"]]
        assert row["train_cpu_seconds_mean"] == pytest.approx(np.mean(cpu))
    assert "training s (wall / CPU)" in (out / "report.md").read_text()
    assert set(data["separation"]) == {"0.1", "0.3"}
    for sep in data["separation"].values():  # the binary subproblems' optimal-transport bound, printed
        assert 0 <= sep["risk_lower_bound"] <= 1 and len(sep["pairwise_risk"]) >= 1
        assert "optimal adversarial risk >=" in sep["summary"]
    assert data["separation"]["0.3"]["risk_lower_bound"] >= data["separation"]["0.1"]["risk_lower_bound"]
    env = data["environment"]
    assert env["torch"] == torch.__version__ and env["torch_threads"] == spec.threads == 1 and env["device"] == "cpu"
    md = (out / "report.md").read_text()
    assert "worst case - AT [95% CI]" in md and "| baseline |" in md


def test_a_finished_study_is_skipped_cell_by_cell(tiny_study):
    spec, folder, report, _ = tiny_study
    cell = folder / "out" / "cells" / "AT" / "eps=0.1" / "seed=0"
    stamp = (cell / "checkpoint.pt").stat().st_mtime_ns
    again = run_study(spec, folder / "out", log=lambda *_: None)
    assert (cell / "checkpoint.pt").stat().st_mtime_ns == stamp  # not trained again
    assert again["rows"] == report["rows"]


def test_an_interrupted_cell_resumes_and_a_changed_setting_is_refused(tiny_study, tmp_path):
    spec, folder, report, _ = tiny_study
    # an interrupted cell: the result is gone, the checkpoint is there -> resumed, same numbers
    cell = folder / "out" / "cells" / "AT" / "eps=0.3" / "seed=1"
    before = json.loads((cell / "result.json").read_text())
    (cell / "result.json").unlink()
    run_study(spec, folder / "out", log=lambda *_: None)
    after = json.loads((cell / "result.json").read_text())
    assert after["per_example_worst"] == before["per_example_worst"]
    assert after["train_cpu_seconds"] is None  # resumed: the CPU time of the first part is unknown
    rows = {(r["method"], r["eps"]): r for r in run_study(spec, folder / "out", log=lambda *_: None)["rows"]}
    assert rows[("AT", 0.3)]["train_cpu_seconds_mean"] is None and rows[("AT", 0.1)]["train_cpu_seconds_mean"] > 0
    # the same folder with another setting: refused, naming the cell
    changed = parse_study({**_tiny_dict(), "epochs": 2})
    with pytest.raises(ValueError, match="written for other settings"):
        run_study(changed, folder / "out", log=lambda *_: None)


def _tiny_dict():
    import tomllib

    return tomllib.loads(TINY)


@pytest.mark.parametrize(
    "change, words",
    [
        ({"seeds": []}, "seeds must be a non-empty list"),
        ({"seeds": [0, 0]}, "repeated"),
        ({"eps": [-0.1]}, "eps must hold finite numbers"),
        ({"epochs": 0}, "epochs must be an integer >= 1"),
        ({"dataset": "mnist"}, "dataset must be one of"),
        ({"colour": "red"}, "unknown settings ['colour']"),
        ({"baseline": "nope"}, "baseline 'nope' is not a method's name"),
        ({"methods": []}, "at least one [[methods]]"),
        ({"methods": [{"algo": "at"}]}, "needs a name"),
        ({"methods": [{"name": "a", "algo": "at"}, {"name": "a", "algo": "at"}]}, "distinct"),
        ({"methods": [{"name": "a", "algo": "at", "lr": -1}]}, "method 'a' at eps=0.1: lr"),
        ({"methods": [{"name": "a", "algo": "at", "seed": 3}]}, "study-level settings ['seed']"),
        ({"methods": [{"name": "a", "algo": "at", "epochs": 0}]}, "method 'a' at eps=0.1: epochs"),
        ({"methods": [{"name": "a", "algo": "at", "wings": 3}]}, "['wings']"),
        ({"eval_attacks": 3}, "eval_attacks"),
        ({"eval_attacks": ["nope"]}, "unknown attacks ['nope']"),
        ({"suite": "huge"}, "suite must be one of"),
        ({"suite": "quick", "eval_attacks": ["square"]}, "already in suite 'quick'"),
        ({"eval_attacks": []}, "eval_attacks must name at least one attack"),
        ({"step_ratio": 2}, "step_ratio"),
    ],
)
def test_bad_study_files_are_refused_before_training(change, words):
    data = {**_tiny_dict(), **change}
    with pytest.raises(ValueError, match=__import__("re").escape(words)):
        parse_study(data)


def test_a_method_may_set_its_own_epochs_and_width():
    data = {**_tiny_dict(), "methods": [{"name": "AT", "algo": "at"},
                                        {"name": "AT, same compute", "algo": "at", "epochs": 2},
                                        {"name": "AT, matched", "algo": "at", "width": 2.0}]}
    spec = parse_study(data)
    assert spec.config("AT", 0.1, 0).epochs == 1 and spec.config("AT, same compute", 0.1, 0).epochs == 2
    assert spec.config("AT, matched", 0.1, 0).width == 2.0


def test_unreadable_study_files(tmp_path):
    with pytest.raises(ValueError, match="cannot read study file"):
        load_study(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("name = [unclosed")
    with pytest.raises(ValueError, match="not valid TOML"):
        load_study(bad)


def test_paired_bootstrap():
    rng = np.random.default_rng(0)
    a = (rng.random((5, 400)) < 0.6).astype(float)
    b = (rng.random((5, 400)) < 0.5).astype(float)
    mean, lo, hi = paired_bootstrap(a, b, 500, seed=1)
    assert mean == pytest.approx((a - b).mean())
    assert lo < mean < hi and lo > 0  # a real 0.1 difference over 2000 pairs is found
    assert paired_bootstrap(a, a, 200) == (0.0, 0.0, 0.0)
    assert paired_bootstrap(a, b, 500, seed=1) == (mean, lo, hi)  # seeded
    with pytest.raises(ValueError, match="same shape"):
        paired_bootstrap(a, b[:, :3])


def test_cli_study_errors_are_one_line(tmp_path):
    bad = tmp_path / "s.toml"
    bad.write_text("epochs = 0\n[[methods]]\nname='a'\nalgo='at'\n")
    out = subprocess.run([sys.executable, "-m", "advgame", "study", str(bad)], capture_output=True, text=True)
    assert out.returncode == 1
    assert out.stderr.strip().count("\n") == 0 and "epochs must be an integer >= 1" in out.stderr
    assert "study" in subprocess.run([sys.executable, "-m", "advgame", "--help"], capture_output=True,
                                     text=True).stdout


def test_the_documented_study_file_is_the_shipped_one_and_parses():
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    doc = (root / "docs" / "studies.md").read_text()
    block = doc.split("```toml\n", 1)[1].split("```", 1)[0]
    shipped = root / "docs" / "studies" / "tiny.toml"
    strip = [ln.split("#", 1)[0].strip() for ln in block.splitlines()]
    strip_shipped = [ln.split("#", 1)[0].strip() for ln in shipped.read_text().splitlines()]
    assert [s for s in strip if s] == [s for s in strip_shipped if s]
    spec = load_study(shipped)
    assert spec.baseline == "AT" and len(spec.cells()) == 8


def test_a_cell_is_evaluated_with_the_studys_suite(tmp_path):
    data = {**_tiny_dict(), "suite": "quick", "eval_attacks": [], "seeds": [0], "eps": [0.2], "eval_samples": 20,
            "methods": [{"name": "AT", "algo": "at"}]}
    report = run_study(parse_study(data), tmp_path / "out", log=lambda *_: None)
    cell = json.loads(next((tmp_path / "out" / "cells").rglob("result.json")).read_text())
    assert {"apgd-ce", "apgd-t", "square", "arc", "worst"} <= set(cell["accuracy"])
    assert cell["worst"] <= min(v for k, v in cell["accuracy"].items() if k not in ("natural", "worst")) + 1e-12
    assert report["suite"] == "quick"


def test_lp_weights_give_a_second_row_with_the_same_members(tmp_path):
    text = TINY.replace("seeds = [0, 1]", "seeds = [0]").replace("eps = [0.1, 0.3]", "eps = [0.3]")
    text += "weights_lp = true\n"  # on the Alg. 2 method (the last table)
    text += '[[comparisons]]\nmethod = "Alg. 2, L = 2 (LP weights)"\nagainst = "Alg. 2, L = 2"\n'
    path = tmp_path / "lp.toml"
    path.write_text(text)
    spec = load_study(path)
    report = run_study(spec, tmp_path / "out", log=lambda *_: None)
    rows = {r["method"]: r for r in report["rows"]}
    assert set(rows) == {"AT", "Alg. 2, L = 2", "Alg. 2, L = 2 (LP weights)"}
    cell = json.loads(next((tmp_path / "out").rglob("Alg*/**/result.json")).read_text())
    lp = cell["lp"]
    assert len(lp["weights"]) == 2 and abs(sum(lp["weights"]) - 1) < 1e-5
    assert rows["Alg. 2, L = 2 (LP weights)"]["worst_mean"] == pytest.approx(lp["worst"])
    assert rows["Alg. 2, L = 2 (LP weights)"]["weights_mean"] == pytest.approx(lp["weights"])
    assert rows["Alg. 2, L = 2"]["worst_mean"] == pytest.approx(cell["worst"])
    assert len(lp["per_example_worst"]) == len(cell["per_example_worst"]) == 40
    assert np.mean(lp["per_example_worst"]) == pytest.approx(lp["worst"])
    diffs = {d["method"] for d in report["differences"]}
    assert "Alg. 2, L = 2 (LP weights)" in diffs
    md = (tmp_path / "out" / "report.md").read_text()
    assert "Alg. 2, L = 2 (LP weights)" in md
    extra = [d for d in report["differences"] if d["baseline"] == "Alg. 2, L = 2"]
    assert len(extra) == 1 and extra[0]["method"] == "Alg. 2, L = 2 (LP weights)"
    assert extra[0]["difference"] == pytest.approx(lp["worst"] - cell["worst"], abs=1e-9)
    assert extra[0]["ci_low"] <= extra[0]["difference"] <= extra[0]["ci_high"]
    assert "| Alg. 2, L = 2 (LP weights) | Alg. 2, L = 2 |" in md


def test_a_method_name_may_not_collide_with_an_lp_row():
    data = _tiny_dict()
    data["methods"][1]["weights_lp"] = True
    data["methods"][0] = {"name": data["methods"][1]["name"] + " (LP weights)", "algo": "at"}
    with pytest.raises(ValueError, match="distinct"):
        parse_study(data)


def test_skip_broken_is_on_by_default_recorded_and_validated():
    data = _tiny_dict()
    assert parse_study(data).skip_broken is True
    data["skip_broken"] = False
    assert parse_study(data).skip_broken is False
    data["skip_broken"] = "no"
    with pytest.raises(ValueError, match="skip_broken"):
        parse_study(data)


@pytest.mark.parametrize("comparisons, words", [
    ([{"method": "AT", "against": "nobody"}], "not a row"),
    ([{"method": "AT", "against": "AT"}], "itself"),
    ([{"method": "AT"}], "exactly the keys"),
    ({"method": "AT"}, "array of tables"),
    ([{"method": "Alg. 2, L = 2 (LP weights)", "against": "AT"}], "not a row"),  # no weights_lp here
])
def test_bad_comparisons_are_refused(comparisons, words):
    data = _tiny_dict()
    data["comparisons"] = comparisons
    with pytest.raises(ValueError, match=words):
        parse_study(data)


def test_the_digits_study_file_has_every_method_the_docs_report():
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    spec = load_study(root / "docs" / "studies" / "digits.toml")
    assert len(spec.seeds) >= 5 and spec.suite == "full" and set(spec.eps) == {0.2, 0.3}
    algos = {options["algo"] for _, options in spec.methods}
    assert algos == {"at", "mixture", "bat", "barre"}
    widths = sorted(options.get("width", 1.0) for _, options in spec.methods if options["algo"] == "at")
    assert widths == [1.0, 1.0, 1.0, 2.0, 3.0]
    lp_rows = [m for m, o in spec.methods if o.get("weights_lp")]
    assert len(lp_rows) == 4 and len(spec.comparisons) == 12
    report = json.loads((root / "docs" / "studies" / "digits-report.json").read_text())
    doc = (root / "docs" / "studies.md").read_text()
    for row in report["rows"]:  # every mean in the shipped report is the one the page quotes
        assert f"{row['worst_mean']:.4f} +- {row['worst_std']:.4f}" in doc, row["method"]
