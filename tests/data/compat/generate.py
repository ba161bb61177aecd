"""Write the backward-compatibility fixtures of ``tests/test_compat.py``.

Run once with the rhtann version whose files must keep loading::

    python tests/data/compat/generate.py

It writes, next to this script, seeded data (``x.npy``, ``q.npy``, ``ids.npy``),
one file per kind of saved object (``*.rhtann``) and what that version
returned for it (``*_expected.npz``). The test loads each file with the current
code and compares. Regenerating overwrites the fixtures, which defeats their
purpose: do it only to add a new kind of file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

import rhtann

HERE = Path(__file__).resolve().parent
D = 48


def data() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(20261201)
    x = rng.standard_normal((300, D)).astype(np.float32)
    x[::10] = 0.0  # sparse rows: they need the extra round in adaptive mode
    x[::10, :2] = rng.standard_normal((30, 2)).astype(np.float32)
    q = rng.standard_normal((20, D)).astype(np.float32)
    ids = (np.arange(300, dtype=np.int64) * 7 + 1000)[rng.permutation(300)]
    return x, q, ids


def transforms() -> dict[str, rhtann.RHT]:
    x, _, _ = data()
    return {
        "rht_pad": rhtann.RHT(D, rounds=2, seed=7, layout="pad"),
        "rht_keep": rhtann.RHT(D, rounds=3, seed=7, layout="keep"),
        "rht_auto": rhtann.RHT(D, rounds="auto", seed=11, layout="auto").train(x),
    }


def indexes() -> dict[str, tuple[rhtann.Index, dict]]:
    x, _, ids = data()
    out = {}
    sq4 = rhtann.Index(D, "RHT,SQ4")
    sq4.train(x)
    sq4.add(x)
    out["index_sq4"] = (sq4, {})
    ivf = rhtann.Index(D, "RHT2keep,IVF4,SQ8", metric="ip", seed=3)
    ivf.train(x)
    ivf.add_with_ids(x, ids)
    out["index_ivf_ids"] = (ivf, {"nprobe": 2})
    auto = rhtann.Index(D, "RHTauto,Flat", metric="cosine")
    auto.train(x)
    auto.add(x)
    out["index_auto_cosine"] = (auto, {})
    adaptive = rhtann.Index(D, "RHT,SQ8", adaptive=True)
    adaptive.train(x)
    adaptive.add(x)
    out["index_adaptive"] = (adaptive, {})
    return out


def main() -> None:
    x, q, ids = data()
    np.save(HERE / "x.npy", x)
    np.save(HERE / "q.npy", q)
    np.save(HERE / "ids.npy", ids)
    for name, rht in transforms().items():
        rht.save(HERE / f"{name}.rhtann")
        np.savez(HERE / f"{name}_expected.npz", y=rht.apply(x), n_rounds=rht.n_rounds)
    for name, (index, params) in indexes().items():
        index.save(HERE / f"{name}.rhtann")
        dist, labels = index.search(q, 5, **params)
        keys = labels[:4, 0]
        np.savez(
            HERE / f"{name}_expected.npz",
            D=dist,
            I=labels,
            keys=keys,
            reconstructed=index.reconstruct(keys),
            ntotal=index.ntotal,
        )


if __name__ == "__main__":
    main()
