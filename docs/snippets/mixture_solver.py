"""A mixture of two CNNs trained on digits, its weights updated by MixtureSolver (README snippet)."""
import torch

from advgame.torch import PGD, Mixture, MixtureSolver, candidate_losses
from advgame.torch.data import load_dataset
from advgame.torch.models import build_model

torch.manual_seed(0)
data = load_dataset("digits", seed=0)  # train / val / test splits, images in [0, 1]
loader = torch.utils.data.DataLoader(data.train, batch_size=256, shuffle=True)
members = [build_model("small-cnn", data.num_classes, data.input_shape, seed=k) for k in range(2)]
mixture = Mixture(members)  # uniform weights to start
solver = MixtureSolver("oracle", mixture, max_iter=200)  # MNE21 Alg. 1 on each batch's candidate game
optimizers = [torch.optim.SGD(m.parameters(), lr=0.1, momentum=0.9) for m in members]
attack = PGD(eps=0.1, steps=5)

for epoch in range(2):
    for x, y in loader:
        x_adv = attack.bind(mixture)(x, y)  # adversarial examples against the current mixture
        for model, opt in zip(members, optimizers):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(x_adv), y).backward()
            opt.step()
        result = solver.update(candidate_losses(mixture, x, y, attack))  # new weights, written into mixture
    print(f"epoch {epoch}: weights {mixture.weights.tolist()}, certified gap on the last batch {result.gap:.1e}")
