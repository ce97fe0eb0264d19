"""Rounds of the multi-cut solver on a small real-valued game for one group (K = 1) and
K = 7, with and without the trust region and cut dropping (issue 21, item 4).

Run: ``python benchmarks/bench_multicut_small.py``.
"""

import functools

import advgame
from advgame.solvers.lp import cuts, driver

g = advgame.examples.random_game(300, 40, 6, kind="real", seed=3, weighted=True)
full = advgame.solve(g, strategy="full").value
print("| K | box | drop_age | rounds | status | value - full LP |")
print("| ---: | --- | ---: | ---: | --- | ---: |")
for K in (1, 7):
    for box in (True, False):
        for age in (cuts.DROP_AGE, None):
            driver.solve_multicut = functools.partial(cuts.solve_multicut, groups=K, use_box=box, drop_age=age)
            r = advgame.solve(g, strategy="cuts")
            print(f"| {K} | {'on' if box else 'off'} | {age} | {r.nit} | {r.status} | {r.value - full:.1e} |")
