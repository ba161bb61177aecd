"""``RHTauto`` in front of trained quantizers: pick 0 to 3 rounds by held-out distortion.

For data-oblivious codes (RaBitQ, EDEN, TurboQuant, rhtann's codecs) the
round count of ``RHTauto`` comes from the moment check
(:func:`rhtann.rounds.dataset_rounds`). A trained quantizer (PQ, OPQ, SQ4/6/8,
RQ, LSQ) adapts to the data's own coordinates, and on some data a rotation
hurts it (on SIFT it spreads the correlated dimensions that PQ groups into
one sub-quantizer). For those keys :func:`choose` splits the training sample
with a seeded permutation into a fitting part and a held-out part, trains one
candidate quantizer per round count (0 = no rotation, 1, 2, 3) on the fitting
part rotated with that many rounds, and measures each candidate's relative
reconstruction error on the held-out part,

    ``sum ||y - decode(encode(y))||^2 / sum ||y||^2``

in the candidate's rotated space (the rotations are isometries, so the
denominators agree). The fewest rounds whose error is within
:data:`TOLERANCE` (relative) of the smallest one win.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from ..progress import Stopwatch
from ..transform import RHT
from . import faiss_glue as glue

#: Share of the training sample held out to measure the candidates.
HOLDOUT_FRACTION = 0.15

#: Most held-out rows and most fitting rows the candidates use.
MAX_HOLDOUT = 2000
MAX_FIT = 8192

#: Round counts tried; 0 is "no rotation".
CANDIDATES = (0, 1, 2, 3)

#: Relative slack under which fewer rounds win over the smallest error.
TOLERANCE = 0.02

#: faiss factory tokens of quantizers trained on the data's coordinates.
_TRAINED = re.compile(r"(O?PQ\d.*|SQ[468](_uniform)?|P?(RQ|LSQ)\d.*|Residual\d.*)")


def is_trained_quantizer(faiss_key: str) -> bool:
    """Whether a faiss key holds a data-trained quantizer (PQ, OPQ, SQ4/6/8, RQ, LSQ...).

    SQtqmse, SQtq, SQfp16, RaBitQ, EDEN, Flat and rhtann's own codec tokens do
    not count: they are data-oblivious.
    """
    return any(_TRAINED.fullmatch(tok.strip()) for tok in faiss_key.split(","))


def applies(index: Any) -> bool:
    """Whether ``index`` (an :class:`rhtann.Index`) picks its rounds by held-out distortion.

    True for a non-adaptive index whose spec has ``RHTauto`` in front of a
    trained quantizer (:func:`is_trained_quantizer`).
    """
    spec = index.spec
    return (
        spec.has_rht
        and spec.rounds == "auto"
        and not index.adaptive
        and is_trained_quantizer(spec.faiss_key)
    )


def _split(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Sorted row numbers ``(fit, holdout)`` of a seeded split of ``n`` rows."""
    perm = np.random.default_rng([seed, 0x7261]).permutation(n)
    n_hold = min(MAX_HOLDOUT, max(1, int(round(HOLDOUT_FRACTION * n))))
    hold = perm[:n_hold]
    fit = perm[n_hold : n_hold + MAX_FIT]
    return np.sort(fit), np.sort(hold)


def choose(index: Any, x: Any) -> tuple[RHT | None, dict]:
    """Pick the round count of ``index`` from validated training rows ``x``.

    Parameters
    ----------
    index : rhtann.Index
        An index for which :func:`applies` holds; its ``_prepare``, spec,
        metric, seed and layout are used (it is not modified).
    x : array_like, shape (n, d)
        Validated training rows (numpy, memmap or h5py), ``n >= 2``.

    Returns
    -------
    rht : RHT or None
        The trained transform with the chosen rounds, or None for no rotation.
    report : dict
        JSON-compatible: ``method`` (``"heldout_distortion"``),
        ``criterion`` (``"relative_mse"``), ``n_rounds`` (the choice),
        ``distortion`` (``{"0": e0, "1": e1, ...}``), ``n_fit``,
        ``n_holdout``, ``holdout_fraction``, ``tolerance``, ``seed`` and
        ``seconds``.

    Raises
    ------
    ValueError
        If ``x`` holds fewer than 2 rows, or faiss cannot train the
        quantizer on the fitting part (too few rows for its codebooks).
    """
    clock = Stopwatch()
    n = x.shape[0]
    if n < 2:
        raise ValueError(
            f"RHTauto in front of a trained quantizer needs at least 2 training vectors "
            f"(some are held out to measure the candidates); got {n}"
        )
    fit_rows, hold_rows = _split(n, index.seed)
    fit = index._prepare(x[fit_rows], "x")
    hold = index._prepare(x[hold_rows], "x")
    spec = index.spec
    distortion: dict[str, float] = {}
    transforms: dict[int, RHT | None] = {}
    for r in CANDIDATES:
        rht = None if r == 0 else RHT(index.d, r, index.seed, spec.layout)
        y_fit = fit if rht is None else rht.apply(fit)
        y_hold = hold if rht is None else rht.apply(hold)
        sub = glue.build_faiss(y_fit.shape[1], spec.faiss_key, index.metric, spec.text)
        glue.skip_polysemous_training(sub)  # renumbers codes only: the error is the same
        try:
            sub.train(y_fit)
        except RuntimeError as exc:
            raise ValueError(
                f"RHTauto cannot train {spec.faiss_key!r} on the {fit.shape[0]} fitting rows "
                f"(the other {hold.shape[0]} are held out): {glue.faiss_error(exc)}"
            ) from None
        distortion[str(r)] = glue.relative_error(sub, y_hold)
        transforms[r] = rht
    best = min(distortion.values())
    chosen = next(r for r in CANDIDATES if distortion[str(r)] <= best * (1.0 + TOLERANCE))
    report = {
        "method": "heldout_distortion",
        "criterion": "relative_mse",
        "n_rounds": chosen,
        "distortion": distortion,
        "n_fit": int(fit.shape[0]),
        "n_holdout": int(hold.shape[0]),
        "holdout_fraction": HOLDOUT_FRACTION,
        "tolerance": TOLERANCE,
        "seed": int(index.seed),
        "seconds": clock.seconds(),
    }
    return transforms[chosen], report


__all__ = [
    "CANDIDATES",
    "HOLDOUT_FRACTION",
    "MAX_FIT",
    "MAX_HOLDOUT",
    "TOLERANCE",
    "applies",
    "choose",
    "is_trained_quantizer",
]
