"""Package-level promises."""

import subprocess
import sys


def test_import_does_not_import_torch_or_matplotlib():
    code = "import sys, advgame; print('torch' in sys.modules, 'matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_public_names():
    import advgame

    for name in ("Game", "Result", "solve", "proj_simplex", "examples", "__version__"):
        assert hasattr(advgame, name)
