"""What the safe CIFAR reader costs: checks and the data fingerprint versus the whole load.

Writes a full-size CIFAR-10 in the official on-disk format (50000 training and 10000 test
images, ``make_cifar_fixture``) to a temporary folder, then times, round-robin:

- ``load``: ``load_dataset("cifar10", root)`` (restricted unpickler, per-file checks,
  SHA-256 fingerprint, splits);
- ``hash``: SHA-256 of the same files' bytes alone;
- ``checks``: the per-file content checks alone, on the unpickled dicts.

and prints the medians and the ratios ``hash / load`` and ``checks / load``.

Run: ``PYTHONPATH=src python benchmarks/bench_cifar_reader.py [--repeat 3]``.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))

from _timing import median_times  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeat", type=int, default=3)
    args = p.parse_args(argv)
    from advgame.torch import data as d

    with tempfile.TemporaryDirectory() as root:
        folder = d.make_cifar_fixture(root, "cifar10", n_train=50000, n_test=10000, seed=0)
        files = [folder / f"data_batch_{k}" for k in range(1, 6)] + [folder / "test_batch"]
        entries = [d._read_batch(f) for f in files]

        def load():
            d.load_dataset("cifar10", root)

        def hash_only():
            h = hashlib.sha256()
            for f in files:
                h.update(f.read_bytes())

        def checks_only():
            for e in entries:
                d._check_batch(e, "labels", 10)

        t_load, t_hash, t_checks = median_times([load, hash_only, checks_only], repeat=args.repeat)
        size = sum(os.path.getsize(f) for f in files) / 2**20
    print(f"CIFAR-10 size fixture ({size:.0f} MiB): load {t_load:.3f} s, hash {t_hash:.3f} s, checks {t_checks:.3f} s")
    print(f"hash / load = {t_hash / t_load:.3f}, checks / load = {t_checks / t_load:.3f}")


if __name__ == "__main__":
    main()
