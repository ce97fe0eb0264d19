"""The exact solution of the empirical game as a linear program (MNE21, Sec. 4.2).

* :mod:`.driver`: :func:`solve_lp`, argument checks, strategy choice, the certificate;
* :mod:`.pruning`: exact reductions of 0/1 games (bit-packing, dominance, merging);
* :mod:`.highs`: the epigraph LP in HiGHS, the pruned model and constraint generation;
* :mod:`.cuts`: constraint generation with aggregated cuts (large real-valued games);
* :mod:`.cvxpy_lp`: the full LP through cvxpy (an independent cross-check).
"""

from .driver import solve_lp
from .pruning import prune_binary_rows

__all__ = ["solve_lp", "prune_binary_rows"]
