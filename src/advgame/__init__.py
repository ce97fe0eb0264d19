"""advgame: the adversarial examples game, solved with a certificate.

A defender mixes L classifiers with weights on the simplex; an adversary moves each
data point inside an eps-ball.  advgame finds the optimal randomized defense, the
optimal randomized attack, and the duality gap that certifies both
(Meunier et al. 2021, "Mixed Nash equilibria in the adversarial examples game";
Pinot et al. 2020, "Randomization matters").

``import advgame`` imports numpy and scipy only; the torch side lives in
``advgame.torch`` and plots in ``advgame.plot``.
"""

from . import bounds, construct, examples, regularized, synthetic  # noqa: F401  (numpy/scipy only)
from .game import Game
from .result import Result, SolverWarning
from .solvers import solve
from .solvers.simplex import proj_simplex
from .synthetic import sample_attacks

__version__ = "0.1.0"

__all__ = ["Game", "Result", "SolverWarning", "solve", "proj_simplex", "sample_attacks", "examples", "synthetic",
           "bounds", "construct", "regularized", "__version__"]
