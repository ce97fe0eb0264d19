import sys, time, statistics, numpy as np, torch, advgame
torch.set_num_threads(1)
from advgame.experiments.mne21 import make_instance
game = make_instance(2.0, seed=0).game
N,m,L = game.shape
def per_it(g):
    ts=[]
    for _ in range(3):
        c=time.process_time(); r=advgame.solve(g, method="entropic", temperature=1e-3, max_iter=40); ts.append((time.process_time()-c)/r.nit)
    return statistics.median(ts), r
def risk(g, lam):
    ts=[]
    for _ in range(7):
        c=time.process_time(); g.risk(lam); ts.append(time.process_time()-c)
    return statistics.median(ts)
out=[]
for tag, g, lam in [("numpy", game, np.full(L,1/L)), ("torch64", game.to_torch(dtype=torch.float64), torch.full((L,),1/L,dtype=torch.float64)), ("torch32", game.to_torch(dtype=torch.float32), torch.full((L,),1/L,dtype=torch.float32))]:
    t, r = per_it(g); f = risk(g, lam)
    print(f"{sys.argv[1]:>6} {tag:>8} it {t*1e3:6.2f} ms risk {f*1e3:5.2f} ms ratio {t/f:5.2f}  value {r.value:.9f} gap {r.gap:.3e} nit {r.nit}")
