"""Why grad_check defaults to the fourth-order difference at eps = 1e-4.

Checks the correct gradients of six random 4-5-3 float64 networks (a batch of 4 examples
each) with the two-point central difference at eps = 1e-6 and the fourth-order one at
eps = 1e-4, and prints each network's largest relative error against
mlp_helpers.gradcheck.TOLERANCE. Seconds to run:

    python benchmarks/gradcheck_step.py
"""
import numpy as np

from mlp_helpers import MLP
from mlp_helpers.gradcheck import TOLERANCE, check_mlp


def main():
    print(f"largest relative error of a correct backward pass (tolerance {TOLERANCE:g})")
    print(f"{'seed':>4}  {'order 2, eps 1e-6':>18}  {'order 4, eps 1e-4':>18}")
    worst = {2: [], 4: []}
    for seed in range(6):
        net = MLP(4, 5, 3, seed=seed, dtype=np.float64)
        rng = np.random.default_rng(100 + seed)
        x, t = rng.normal(size=(4, 4)), rng.integers(0, 3, size=4)
        for order, eps in ((2, 1e-6), (4, 1e-4)):
            worst[order].append(check_mlp(net, x, t, eps=eps, order=order).max_rel_error)
        print(f"{seed:>4}  {worst[2][-1]:>18.1e}  {worst[4][-1]:>18.1e}")
    for order in (2, 4):
        above = sum(e > TOLERANCE for e in worst[order])
        print(f"order {order}: {above} of 6 networks above the tolerance; largest {max(worst[order]):.1e}")


if __name__ == "__main__":
    main()
