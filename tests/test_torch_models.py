"""advgame.torch.models: ResNet-18 / WRN-28-10 for 32x32, build_model, seeded init."""

import pytest

torch = pytest.importorskip("torch")

from advgame.torch.models import (  # noqa: E402
    CIFAR10_MEAN, CIFAR10_STD, MODEL_NAMES, ResNet18, SmallCNN, SmallMLP, WideResNet, build_model, resnet18,
    wide_resnet,
)


def n_params(m):
    return sum(p.numel() for p in m.parameters())


def test_parameter_counts():
    # the published sizes: ResNet-18 (CIFAR) 11.17M, WRN-28-10 36.5M
    assert n_params(resnet18()) == 11_173_962
    assert n_params(resnet18(num_classes=100)) == 11_173_962 + 90 * 513
    assert n_params(wide_resnet()) == 36_479_194


def test_resnet18_is_the_cifar_variant():
    m = resnet18()
    assert m.conv1.kernel_size == (3, 3) and m.conv1.stride == (1, 1)
    assert not any(isinstance(mod, torch.nn.MaxPool2d) for mod in m.modules())


@pytest.mark.parametrize("build,shape,classes", [
    (lambda: resnet18(10, seed=0), (3, 16, 16), 10),  # global pooling: smaller inputs keep the test fast
    (lambda: resnet18(7, in_channels=1, seed=0), (1, 8, 8), 7),
    (lambda: wide_resnet(depth=10, widen_factor=1, num_classes=100, seed=0), (3, 32, 32), 100),
    (lambda: build_model("small-cnn", 10, (1, 8, 8), seed=0), (1, 8, 8), 10),
    (lambda: build_model("small-mlp", 10, (1, 8, 8), seed=0), (1, 8, 8), 10),
])
def test_output_shape_and_backward(build, shape, classes):
    m = build()
    x = torch.rand(3, *shape)
    y = torch.tensor([0, 1, 2])
    out = m(x)
    assert out.shape == (3, classes)
    torch.nn.functional.cross_entropy(out, y).backward()
    grads = [p.grad for p in m.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert any(float(g.abs().sum()) > 0 for g in grads)


@pytest.mark.slow
def test_wrn_28_10_forward():
    m = wide_resnet(seed=0, dropout=0.3).eval()
    with torch.no_grad():
        out = m(torch.rand(1, 3, 32, 32))
    assert out.shape == (1, 10) and torch.isfinite(out).all()


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_build_model_names(name):
    shape = (3, 32, 32) if name in ("resnet18", "wrn-28-10") else (1, 8, 8)
    m = build_model(name, 10, shape, seed=0) if name != "wrn-28-10" else None
    expected = {"resnet18": ResNet18, "small-cnn": SmallCNN, "small-mlp": SmallMLP}
    if m is not None:
        assert isinstance(m, expected[name])
    else:
        assert isinstance(build_model(name, 10, shape, seed=0), WideResNet)


def test_seeded_init_is_deterministic_and_leaves_global_rng():
    state = torch.get_rng_state()
    a, b, c = resnet18(seed=1), resnet18(seed=1), resnet18(seed=2)
    assert torch.equal(torch.get_rng_state(), state)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert not all(torch.equal(p, q) for p, q in zip(a.parameters(), c.parameters()))
    s1 = build_model("small-cnn", 10, (1, 8, 8), seed=4)
    s2 = build_model("small-cnn", 10, (1, 8, 8), seed=4)
    assert all(torch.equal(p, q) for p, q in zip(s1.parameters(), s2.parameters()))
    torch.manual_seed(0)
    u = resnet18()
    torch.manual_seed(0)
    v = resnet18()
    assert all(torch.equal(p, q) for p, q in zip(u.parameters(), v.parameters()))  # seed=None: caller seeds


def test_normalization_inside_the_model():
    m = resnet18(seed=0, mean=CIFAR10_MEAN, std=CIFAR10_STD).eval()
    plain = resnet18(seed=0).eval()
    x = torch.rand(2, 3, 8, 8)
    mean = torch.tensor(CIFAR10_MEAN).view(3, 1, 1)
    std = torch.tensor(CIFAR10_STD).view(3, 1, 1)
    assert torch.allclose(m(x), plain((x - mean) / std), atol=1e-5)
    assert "normalize.mean" in m.state_dict()


@pytest.mark.parametrize("call,exc,match", [
    (lambda: build_model("vgg", 10, (3, 32, 32)), ValueError, "name must be one of"),
    (lambda: build_model("resnet18", 0, (3, 32, 32)), ValueError, "num_classes"),
    (lambda: build_model("resnet18", 10, (3, 32)), ValueError, "input_shape"),
    (lambda: build_model("resnet18", 10, (3, 32, 32.0)), TypeError, "input_shape"),
    (lambda: build_model("small-cnn", 10, (1, 8, 8), mean=(0.5,), std=(0.2,)), ValueError, "mean and std"),
    (lambda: wide_resnet(depth=27), ValueError, "6n \\+ 4"),
    (lambda: wide_resnet(depth=10, widen_factor=1, dropout=1.0), ValueError, "dropout"),
    (lambda: resnet18(num_classes="10"), TypeError, "num_classes"),
    (lambda: resnet18(seed=-1), ValueError, "seed"),
    (lambda: resnet18(mean=(0.5, 0.5, 0.5)), ValueError, "together"),
    (lambda: resnet18(mean=(0.5, 0.5), std=(0.2, 0.2)), ValueError, "one per channel"),
    (lambda: resnet18(mean=(0.5,) * 3, std=(0.2, 0.0, 0.2)), ValueError, "std must be positive"),
])
def test_bad_arguments(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


# --- width and the parameter-matched baseline (issue 20, item 2) -----------------------------
@pytest.mark.parametrize("name,shape", [("small-mlp", (1, 8, 8)), ("small-cnn", (1, 8, 8)),
                                        ("resnet18", (3, 32, 32)), ("wrn-28-10", (3, 32, 32))])
@pytest.mark.parametrize("L", [2, 3])
def test_matched_width_gives_L_times_the_parameters(name, shape, L):
    from advgame.torch.models import build_model, count_parameters, matched_width

    w = matched_width(name, 10, shape, L)
    with torch.device("meta"):
        ratio = count_parameters(build_model(name, 10, shape, width=w)) / count_parameters(
            build_model(name, 10, shape))
    assert ratio == pytest.approx(L, rel=0.05)


def test_width_one_is_the_default_model_and_widths_are_checked():
    from advgame.torch.models import build_model

    a = build_model("resnet18", 10, (3, 32, 32), seed=0)
    b = build_model("resnet18", 10, (3, 32, 32), seed=0, width=1.0)
    assert all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values()))
    wide = build_model("small-mlp", 10, (1, 8, 8), width=2.0)
    assert wide(torch.rand(4, 1, 8, 8)).shape == (4, 10)
    assert wide.net[1].out_features == 128
    with pytest.raises(ValueError, match="width"):
        build_model("small-mlp", 10, (1, 8, 8), width=0)
