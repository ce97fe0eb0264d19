"""Collection rules for the whole test run (``testpaths = ["tests", "src/advgame"]``).

``--doctest-modules`` imports every module of ``src/advgame``; the torch side needs the
``torch`` extra, so without torch its modules are not collected (their tests in
``tests/`` skip themselves).
"""

import importlib.util

collect_ignore_glob = []
if importlib.util.find_spec("torch") is None:
    collect_ignore_glob.append("src/advgame/torch/*")
