"""The empirical game (MNE21, Sec. 4.2).

* :mod:`.core`: :class:`Game`, the loss tensor and its evaluations (risk, best
  responses, duality gap);
* :mod:`.view`: :class:`GameView`, the solver contract (what a solver may read);
* :mod:`.checks`: the game's input validation;
* :mod:`.fileformat`: its ``.npz`` file format (atomic save, safe load).
"""

from .core import Game
from .view import GameView

__all__ = ["Game", "GameView"]
