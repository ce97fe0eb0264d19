"""Mixed precision, channels_last and compile in training (issue 18, item 2-3), on the CPU
(bf16 / fp16 autocast run there too; the CUDA-only defaults are skipped without a device)."""

from __future__ import annotations

import pytest
import torch

from _training_data import tiny_config, tiny_data  # noqa: E402

from advgame.torch import Mixture
from advgame.torch.models import build_model
from advgame.torch.training import Trainer, TrainConfig
from advgame.torch.training.algorithms import adversarial_batch
from advgame.torch.training.precision import (autocast, default_precision, grad_scaler, prepare_member,
                                              resolve_precision)


@pytest.fixture(autouse=True)
def _one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def test_precision_choices_and_defaults():
    assert default_precision("cpu") == "fp32" and resolve_precision(None, "cpu") == "fp32"
    assert resolve_precision("bf16", "cpu") == "bf16"
    with pytest.raises(ValueError, match="precision"):
        resolve_precision("fp8", "cpu")
    with pytest.raises(ValueError, match="precision"):
        TrainConfig(precision="half")
    with pytest.raises(TypeError, match="compile"):
        TrainConfig(compile="yes")
    assert grad_scaler("bf16", "cpu") is None and grad_scaler("fp16", "cpu") is not None
    cfg = TrainConfig(precision="bf16", channels_last=True, compile=True)
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_defaults_to_bf16_and_cudnn_benchmark():
    from advgame.torch.training.precision import set_cudnn_benchmark

    assert default_precision("cuda") == ("bf16" if torch.cuda.is_bf16_supported() else "fp32")
    assert set_cudnn_benchmark("cuda") and torch.backends.cudnn.benchmark


def test_autocast_runs_reduced_precision_and_logits_come_back_float32():
    torch.manual_seed(0)
    plain = build_model("small-cnn", 10, (3, 8, 8), seed=0).eval()
    hooked = prepare_member(build_model("small-cnn", 10, (3, 8, 8), seed=0).eval(), precision="bf16")
    x = torch.rand(4, 3, 8, 8)
    with autocast("bf16", "cpu"):
        assert plain(x).dtype == torch.bfloat16  # autocast is in effect
        z = hooked(x)
    assert z.dtype == torch.float32
    assert torch.allclose(z, plain(x), atol=0.05)  # bf16 keeps ~3 significant digits
    with autocast("fp32", "cpu"):
        assert plain(x).dtype == torch.float32


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_attack_under_autocast_stays_in_the_ball_in_float32(precision):
    cfg = tiny_config(eps=0.1, step=0.05, attack_steps=5)
    members = [prepare_member(build_model("small-cnn", 3, (1, 6, 6), seed=k).eval(), precision=precision)
               for k in range(2)]
    x = torch.rand(16, 1, 6, 6)
    y = torch.randint(0, 3, (16,))
    gen = torch.Generator().manual_seed(0)
    with autocast(precision, "cpu"):
        x_adv = adversarial_batch(cfg, Mixture(members), x, y, gen)
    assert x_adv.dtype == torch.float32
    assert (x_adv - x).abs().max() <= 0.1 + 1e-6 and x_adv.min() >= 0 and x_adv.max() <= 1
    assert (x_adv != x).any()


def test_channels_last_keeps_the_state_dict_and_the_function():
    a = build_model("resnet18", 10, (3, 32, 32), seed=0).eval()
    b = prepare_member(build_model("resnet18", 10, (3, 32, 32), seed=0).eval(), channels_last=True)
    conv = next(m for m in b.modules() if isinstance(m, torch.nn.Conv2d))
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)
    assert not conv.weight.is_contiguous()
    sa, sb = a.state_dict(), b.state_dict()
    assert list(sa) == list(sb) and all(torch.equal(sa[k], sb[k]) for k in sa)
    x = torch.rand(2, 3, 32, 32)
    assert torch.allclose(a(x), b(x), atol=1e-5)


def test_compile_keeps_state_dict_names_and_outputs():
    a = build_model("small-cnn", 3, (1, 6, 6), seed=0).eval()
    b = prepare_member(build_model("small-cnn", 3, (1, 6, 6), seed=0).eval(), compile=True,
                       compile_backend="eager")
    assert list(a.state_dict()) == list(b.state_dict())
    x = torch.rand(4, 1, 6, 6)
    assert torch.allclose(a(x), b(x), atol=1e-6)


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_reduced_precision_resume_is_bit_identical(tmp_path, precision):
    """Exact resume within one precision (the fp16 loss scale is in the checkpoint)."""
    cfg = tiny_config(algo="trades", models=1, epochs=2, milestones=(0.5,), arch="small-cnn", precision=precision)
    full = Trainer(cfg, tiny_data(), out=tmp_path / "full")
    full.fit()
    part = Trainer(cfg, tiny_data(), out=tmp_path / "part")
    part.fit(max_epochs=1)
    resumed = Trainer(cfg, tiny_data(), out=tmp_path / "part")
    assert resumed.resume() and resumed.epoch == 1
    if precision == "fp16":
        assert resumed.scaler.get_scale() == part.scaler.get_scale()
    resumed.fit()
    for ma, mb in zip(full.members, resumed.members):
        for (ka, va), (kb, vb) in zip(ma.state_dict().items(), mb.state_dict().items()):
            assert ka == kb and torch.equal(va, vb), ka
    assert [r["robust"] for r in full.history] == [r["robust"] for r in resumed.history]
    assert full.precision == precision


def test_resume_refuses_another_precision(tmp_path):
    cfg = tiny_config(algo="at", models=1, precision="bf16")
    Trainer(cfg, tiny_data(), out=tmp_path).fit()
    other = Trainer(tiny_config(algo="at", models=1, precision="fp32"), tiny_data(), out=tmp_path)
    with pytest.raises(ValueError, match="precision"):
        other.resume()


#: bf16 against fp32 on the digits path: |accuracy difference| at most this (stated in docs/training.md)
BF16_TOLERANCE = 0.05


def test_bf16_accuracy_within_tolerance_of_fp32_on_digits():
    from advgame.torch.data import load_dataset

    data = load_dataset("digits", val_size=0.2, seed=0)
    acc = {}
    for precision in ("fp32", "bf16"):
        cfg = TrainConfig(algo="at", dataset="digits", models=1, epochs=3, arch="small-mlp", batch_size=64,
                          lr=0.05, eps=0.05, step=0.02, attack_steps=3, eval_steps=5, milestones=(0.9,),
                          seed=0, precision=precision)
        tr = Trainer(cfg, data)
        tr.fit()
        acc[precision] = tr.history[-1]
    print({p: (round(r["natural"], 4), round(r["robust"], 4)) for p, r in acc.items()})
    assert acc["fp32"]["natural"] > 0.8  # the runs learned something
    for key in ("natural", "robust"):
        assert abs(acc["bf16"][key] - acc["fp32"][key]) <= BF16_TOLERANCE, (key, acc)


def test_vmap_check_accepts_autocast_rounding_under_bf16():
    """Under bf16 autocast the members' vmapped and looped logits differ by bf16's rounding:
    the first-call check must keep the vmap path rather than warn and fall back."""
    import warnings

    members = [prepare_member(build_model("small-cnn", 3, (1, 6, 6), seed=k).eval(), precision="bf16")
               for k in range(3)]
    mix = Mixture(members, vectorize="auto")
    x = torch.rand(32, 1, 6, 6)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with autocast("bf16", "cpu"):
            mix.member_logits(x, param_grad=False)
    assert mix._logits.timing is not None  # vmap was found correct (then kept or not by its timing)


def test_cli_precision_flags_reach_the_checkpoint(tmp_path, capsys):
    from advgame.torch.commands import main

    fast = ["--eps", "0.2", "--step", "0.05", "--attack-steps", "1", "--eval-steps", "1", "--eval-samples", "40",
            "--batch-size", "256", "--no-progress", "--threads", "1", "--dataset", "digits", "--algo", "at"]
    assert main(["train", *fast, "--precision", "bf16", "--no-channels-last", "--out", str(tmp_path)]) == 0
    cfg = torch.load(tmp_path / "checkpoint.pt", weights_only=True)["config"]
    assert cfg["precision"] == "bf16" and cfg["channels_last"] is False and cfg["compile"] is False
    # the checkpoint is finished; resuming it with another precision is refused in one line
    assert main(["train", *fast, "--precision", "fp32", "--out", str(tmp_path), "--resume"]) == 1
    assert "precision" in capsys.readouterr().err


@pytest.mark.parametrize("algo, models", [("bat", 2), ("mixture", 2)])
def test_bat_and_algorithm2_train_under_bf16(algo, models):
    cfg = tiny_config(algo=algo, models=models, arch="small-cnn", precision="bf16")
    tr = Trainer(cfg, tiny_data())
    hist = tr.fit()
    assert len(hist) == cfg.total_epochs and all(r["loss"] is None or r["loss"] == r["loss"] for r in hist)
    assert tr.precision == "bf16" and not tr.mixture.vectorize  # members looped under autocast
    assert abs(float(tr.mixture.weights.sum()) - 1) < 1e-5


def test_resume_refuses_a_default_precision_that_resolved_differently(tmp_path, monkeypatch):
    """precision=None resolves by device (bf16 on CUDA, fp32 on CPU): the checkpoint keeps the
    resolved precision, so a run resumed where the default differs is refused."""
    import advgame.torch.training.precision as prec

    cfg = tiny_config(algo="at", models=1)  # precision=None
    monkeypatch.setattr(prec, "default_precision", lambda device: "bf16")
    tr = Trainer(cfg, tiny_data(), out=tmp_path)
    assert tr.precision == "bf16"
    tr.fit()
    monkeypatch.undo()
    again = Trainer(cfg, tiny_data(), out=tmp_path)
    assert again.precision == "fp32"
    with pytest.raises(ValueError, match="trained in bf16"):
        again.resume()
