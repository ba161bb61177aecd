"""Write the fixtures of the keep layout's uniform-shuffle permutation at d = 768.

Up to commit f22b578 every ``KeepLayout`` permuted by a uniform shuffle; from
a146406 on, d >= 256 on the natural span layout (768 among them) takes the
block-and-lane permutation. Files saved before must keep their rotation.
Run once with a checkout of f22b578 first on the path::

    PYTHONPATH=<f22b578 checkout> python tests/data/compat/generate_keep768.py

It writes ``keep768_rht.rhtann`` (a three-round keep transform),
``keep768_index.rhtann`` (``RHT2keep,Center,TQ4``, L2) and what that version
returned for them (``keep768_expected.npz``). Regenerating with a later
version defeats their purpose.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

import rhtann

HERE = Path(__file__).resolve().parent
D = 768


def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(768)
    x = rng.standard_normal((200, D)).astype(np.float32)
    q = rng.standard_normal((5, D)).astype(np.float32)
    return x, q


def main() -> None:
    x, q = data()
    rht = rhtann.RHT(D, rounds=3, seed=7, layout="keep")
    rht.save(HERE / "keep768_rht.rhtann")
    index = rhtann.Index(D, "RHT2keep,Center,TQ4", "l2", seed=3)
    index.train(x)
    index.add(x)
    index.save(HERE / "keep768_index.rhtann")
    dist, labels = index.search(q, 5)
    keys = np.array([0, 17, 199], dtype=np.int64)
    np.savez(
        HERE / "keep768_expected.npz", x=x[:8], y=rht.apply(x[:8]), q=q, D=dist, I=labels, keys=keys,
        reconstructed=index.reconstruct(keys), version=rhtann.__version__,
    )
    print(f"written with rhtann from {Path(rhtann.__file__).parent}")


if __name__ == "__main__":
    main()
