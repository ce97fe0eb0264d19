import sys

import advgame


def test_import_does_not_import_torch():
    import subprocess

    code = "import sys, advgame; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_motivating_example_value():
    res = advgame.solve(advgame.examples.motivating_game())
    assert abs(res.value - 0.75) < 1e-12
    assert res.gap <= 1e-9
