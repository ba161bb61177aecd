"""The dimension-preserving layout (``"keep"``).

``KeepLayout(d)`` has ``d_out == d`` for every ``d``. In every mode, each round
after the first starts with a fixed pseudo-random permutation of the ``d``
coordinates (:func:`keep_permutation`: it depends on ``d`` only, not on the
seed). Where the per-row span path runs (:func:`block_permuted`), the
permutation moves whole 8-coordinate blocks and mixes lanes inside them
(:func:`block_permutation`), so that it runs as vector loads and in-register
shuffles; elsewhere it is a uniform shuffle of all ``d`` coordinates
(:func:`fixed_permutation`). The permutation costs one pass over the data and changes no guarantee
(a Hadamard matrix with permuted columns is a Hadamard matrix), but it breaks
the algebraic structure that makes consecutive Sylvester rounds align: the
``(e0 + e1) / sqrt(2)`` input, whose two output coordinates ``0`` and ``1``
have equal magnitudes after two padded rounds, is no longer special. How a
round mixes the coordinates depends on ``d``:

``"sylvester"`` (``d`` a power of two)
    ``x <- (1/sqrt(d)) H_d diag(s_r) x`` with the Sylvester matrix, as in the
    padded layout (nothing to pad). Round 0 equals the padded layout's round
    0; because of the permutations, two or three rounds do not equal
    ``faiss.HadamardRotation`` (use ``"pad"`` or ``"auto"`` for that).

``"hadamard"`` (``d`` has a Hadamard plan, see :mod:`rhtann.layouts.hadamard`)
    The same with a true Hadamard matrix ``H_d = H_{K_1} (x) ... (x) H_M`` of
    order ``d`` (Paley cores applied as small dense products, a Sylvester
    factor as a fast transform). Every entry of ``H_d / sqrt(d)`` has
    magnitude ``1/sqrt(d)``, so the facts that make the padded RHT work hold
    unchanged with ``p -> d``: each output coordinate is a Rademacher sum of
    the inputs, its variance is exactly ``||x||^2 / d`` for every input, and
    one round maps the fourth-moment ratio to
    ``E sum_i y_i^4 = (3 - 2 rho4(x)) / d`` (theory.md A.4 (ii)), from which the
    two-round Berry-Esseen bound ``KS <= 0.56 sqrt(3 / d)`` follows.

``"windows"`` (every other ``d``)
    ``h`` is a Hadamard order with a plan, at most ``d`` and more than
    ``d / 2`` (the cheapest one in ``[15 d / 16, d]`` when there is one,
    otherwise the largest). One round is three steps, each a randomized
    Hadamard transform of order ``h`` with its own signs on a window of ``h``
    consecutive coordinates: the front window ``[0, h)``, the back window
    ``[d - h, d)``, the front window again. The windows overlap, so every
    input coordinate reaches every output coordinate within one round. Each
    round costs three Hadamard transforms of order ``h``: ``O(d log d)`` with
    a constant dense-core factor of at most ``MAX_DENSE``.

    What it guarantees: orthogonality and an exact inverse (every step is
    orthogonal); each output coordinate is, given the earlier steps, a
    Rademacher sum over its last window. What it does not: the variance of
    an output coordinate is not exactly ``||x||^2 / d`` for every input, so
    the exact identities above hold only approximately. The expected squared
    entries of the transform form a doubly stochastic matrix whose distance
    to the uniform one (:func:`variance_spread`) is at most ``(d - h) / h``
    after one round and shrinks quickly with more rounds; sampled quality is
    measured by ``bench/studies/layout_quality.py``.

The ``"auto"`` rule that chooses between this layout and padding is in
:mod:`rhtann.layouts.auto`.
"""

from __future__ import annotations

import math
from functools import cache

import numpy as np

from ..kernels import keep as _kernels_keep
from ..kernels import keep_span as _kernels_span
from ..kernels import simd as _simd
from ..kernels.moments import square_sums
from ..kernels.simd_keep import LANES, ROW_BLOCK
from ..kernels.threads import get_num_threads
from . import hadamard as _hadamard
from .base import Layout
from .output import empty_output
from .permutations import PERM_KINDS, block_permutation, fixed_permutation, keep_permutation

#: Smallest ``d`` that takes the block-and-lane permutation (:func:`block_permuted`).
BLOCK_MIN_D = 256
#: Fraction of ``d`` a window may leave out when a cheaper window order exists.
WINDOW_SLACK = 1.0 / 16.0
#: Batches of fewer tiles than this run on one thread (no thread launch).
SERIAL_TILES = 4
#: Rows of at most this many coordinates take tiles of ``2 * SUM_LANES`` rows; longer ones too in
#: batches of at least that many rows (faster on AVX2 than ``SUM_LANES``-row tiles), else ``SUM_LANES``.
SHORT_ROWS = 256
#: Largest number of inputs summed into one group of a dense core (see :func:`core_tables`).
MAX_GROUP = 5


#: Batches of fewer rows than this run the span path on one thread.
SPAN_SERIAL_ROWS = 16


def _is_pow2(n: int) -> bool:
    return n >= 1 and n & (n - 1) == 0


def _plan_cost(plan: tuple[tuple[int, ...], int]) -> int:
    cores, m = plan
    return sum(cores) + (m.bit_length() - 1)


def group_size(k: int) -> int:
    """Inputs per group for a dense core of order ``k`` (see :func:`core_tables`).

    Minimizes the modelled cost of one core application,
    ``1.5 G 2^(g-1) + k G`` with ``G = ceil(k / g)`` groups: forming and
    storing the ``2^(g-1)`` sums of each group, then one multiply-add per
    output and group. The weight 1.5 and the cap :data:`MAX_GROUP` (larger
    groups spill registers) come from timing ``g = 3 .. 6`` at
    ``k = 12, 28, 100`` (``bench/studies/transform_speed.py``). Ties go to the larger ``g``.
    """
    best = None
    for g in range(1, MAX_GROUP + 1):
        ng = -(-k // g)
        cost = 1.5 * ng * 2 ** (g - 1) + k * ng
        if best is None or cost <= best[0]:
            best = (cost, g)
    return best[1]


def core_tables(cores: tuple[int, ...], transpose: bool = False):
    """Tables of the grouped-sum form of the dense cores, read by the keep kernels.

    The inputs of core ``c`` (order ``k``) are cut into groups of
    :func:`group_size` consecutive inputs. For a group of ``s`` inputs
    ``x_0 .. x_{s-1}`` the kernel forms the ``2^(s-1)`` sums
    ``x_0 + sum_b (-1)^{bit_{b-1}(q)} x_b`` (``q < 2^(s-1)``), stored at rows
    ``gcomb[g] + q`` of its sum buffer. Row ``i`` of the core restricted to
    the group is ``H[i, j0]`` times the pattern ``q`` whose bit ``b - 1`` is
    set where ``H[i, j0 + b] != H[i, j0]``, so output ``i`` is
    ``sum_g tsgn[i, g] * sums[tidx[i, g]]``.

    Parameters
    ----------
    cores : tuple of int
        Core orders (Paley matrices from :func:`rhtann.layouts.hadamard.core_matrix`).
    transpose : bool, default False
        Tables of the transposed cores (for the inverse).

    Returns
    -------
    ints : tuple of 7 ndarrays, int64
        ``core_k`` (order of each core), ``core_g`` (groups per core),
        ``gb_off`` (offset of each core's entries in ``gbounds``/``gcomb``),
        ``t_off`` (offset of each core's ``k * G`` entries in ``tidx``),
        ``gbounds`` (group boundaries, ``G + 1`` per core), ``gcomb``
        (first sum row of each group, padded to ``G + 1`` per core), ``tidx``
        (sum row of each output and group, row-major ``(k, G)`` per core).
    tsgn : ndarray, float64
        Sign of each ``tidx`` entry.
    terms : int
        Rows of the sum buffer the largest core needs.
    """
    core_k, core_g, gb_off, t_off = [], [], [], []
    gbounds, gcomb, tidx, tsgn = [], [], [], []
    terms = 0
    for k in cores:
        h = _hadamard.core_matrix(k).astype(np.int64)
        if transpose:
            h = h.T
        g = group_size(k)
        bounds = list(range(0, k, g)) + [k]
        ng = len(bounds) - 1
        offs = [0]
        for a, b in zip(bounds[:-1], bounds[1:], strict=True):
            offs.append(offs[-1] + 2 ** (b - a - 1))
        terms = max(terms, offs[-1])
        core_k.append(k)
        core_g.append(ng)
        gb_off.append(len(gbounds))
        t_off.append(len(tidx))
        gbounds += bounds
        gcomb += offs
        for i in range(k):
            for gi in range(ng):
                j0, j1 = bounds[gi], bounds[gi + 1]
                lead = h[i, j0]
                q = sum(1 << (b - 1) for b in range(1, j1 - j0) if h[i, j0 + b] != lead)
                tidx.append(offs[gi] + q)
                tsgn.append(float(lead))
    ints = tuple(np.asarray(a, dtype=np.int64) for a in (core_k, core_g, gb_off, t_off, gbounds, gcomb, tidx))
    return ints, np.asarray(tsgn, dtype=np.float64), terms


class SpanPlan:
    """Tables of the per-row ("span") forward path of :mod:`rhtann.kernels.keep_span`.

    Built by :func:`span_plan`; the attributes are the kernel's arguments of
    the same names (see :func:`rhtann.kernels.keep_span.span_natural_forward`
    and :func:`rhtann.kernels.keep_span.span_blocked_forward`),
    plus ``p`` (buffer length per row), ``rows`` (rows sharing the
    buffers), ``real`` (buffer positions holding a coordinate) and ``nat``
    (the coordinate each buffer position holds, 0 at pads). The matrices
    ``mats`` and ``mat_t`` are float64; :meth:`tables` gives them in the
    kernel's dtype.
    """

    def __init__(self, **fields) -> None:
        self.__dict__.update(fields)
        self._cast = {}

    def tables(self, dtype: np.dtype) -> tuple[np.ndarray, np.ndarray]:
        """``(mats, mat_t)`` in ``dtype`` (cached)."""
        dtype = np.dtype(dtype)
        if dtype not in self._cast:
            self._cast[dtype] = (self.mats.astype(dtype), self.mat_t.astype(dtype))
        return self._cast[dtype]


def _dense(k: int) -> np.ndarray:
    """The factor of order ``k`` of a window matrix: a Paley core, or Sylvester's for powers of two."""
    if _is_pow2(k):
        return _hadamard.sylvester(k.bit_length() - 1).astype(np.float64)
    return _hadamard.core_matrix(k).astype(np.float64)


def span_plan(d: int, perm_kind: str | None = None) -> SpanPlan | None:
    """The span path's layout for ``KeepLayout(d, perm_kind)``, or None where it does not apply.

    It applies in the ``"sylvester"`` and ``"hadamard"`` modes for ``d > 1``
    when the Sylvester factor has ``M >= SPAN`` (natural layout) or every
    factor but the inner one has an order divisible by 4 (blocked layout). The inner
    factor of the blocked layout is the one with the least padding
    ``ceil(K / 8) * 8 / K``.
    """
    d = int(d)
    if keep_mode(d) == "windows":
        return None
    cores, m = _hadamard.hadamard_plan(d)
    kind = perm_kind or default_perm_kind(d)
    perm = keep_permutation(d, kind)
    zero = np.zeros(LANES, dtype=np.int32)
    if m >= _simd.SPAN:
        if kind == "blocks":
            _, bsrc, lperm = block_permutation(d)
        else:
            bsrc, lperm = zero, np.zeros((1, LANES), dtype=np.int32)
        strides = [int(np.prod(cores[c + 1 :], dtype=np.int64)) * m for c in range(len(cores))]
        mats = [_dense(k).T.ravel() for k in cores]
        offs = np.cumsum([0] + [k * k for k in cores])[:-1]
        return SpanPlan(
            natural=True, m=m, kin=0, p=d, rows=1, perm=perm.astype(np.int32), gx=zero, gbuf=zero,
            blocks=kind == "blocks", bsrc=bsrc, lperm=lperm,
            fin=zero.astype(np.int64),
            col_k=np.asarray(cores, dtype=np.int64), col_s=np.asarray(strides, dtype=np.int64),
            col_m=np.asarray(offs, dtype=np.int64),
            mats=np.concatenate(mats) if mats else np.zeros(1), mat_t=np.zeros((1, LANES)),
            real=np.arange(d, dtype=np.int64), nat=np.arange(d, dtype=np.int64),
        )
    digits = list(cores) + ([m] if m > 1 else [])
    if not digits:
        return None
    e = min(range(len(digits)), key=lambda i: (-(-digits[i] // LANES) * LANES / digits[i], -digits[i]))
    if any(k % 4 for i, k in enumerate(digits) if i != e):
        return None
    kin = digits[e]
    kp = -(-kin // LANES) * LANES
    nat_stride = [int(np.prod(digits[i + 1 :], dtype=np.int64)) for i in range(len(digits))]
    others = [i for i in range(len(digits)) if i != e]
    buf_stride = {i: kp * int(np.prod([digits[j] for j in others if j > i], dtype=np.int64)) for i in others}
    buf_stride[e] = 1
    idx = np.arange(d, dtype=np.int64)
    pos = np.zeros(d, dtype=np.int64)
    for i, k in enumerate(digits):
        pos += (idx // nat_stride[i]) % k * buf_stride[i]
    p = d // kin * kp
    nat = np.zeros(p, dtype=np.int64)
    nat[pos] = idx
    real = np.sort(pos)
    gbuf = np.zeros(p, dtype=np.int64)
    gbuf[pos] = pos[perm]
    gx_perm = np.zeros(p, dtype=np.int64)
    gx_perm[pos] = perm
    mat_t = np.zeros((kin, kp))
    mat_t[:, :kin] = _dense(kin).T
    col = [(digits[i], buf_stride[i]) for i in others]
    mats = [_dense(k).T.ravel() for k, _ in col]
    offs = np.cumsum([0] + [k * k for k, _ in col])[:-1]
    nrows = p // kp
    return SpanPlan(
        natural=False, m=m, kin=kin, p=p, rows=ROW_BLOCK // math.gcd(nrows, ROW_BLOCK), blocks=False,
        perm=perm.astype(np.int32), gx=nat.astype(np.int32), gx_perm=gx_perm.astype(np.int32),
        gbuf=gbuf.astype(np.int32), fin=pos,
        col_k=np.asarray([k for k, _ in col], dtype=np.int64),
        col_s=np.asarray([s for _, s in col], dtype=np.int64), col_m=np.asarray(offs, dtype=np.int64),
        mats=np.concatenate(mats) if mats else np.zeros(1), mat_t=mat_t, real=real, nat=nat,
    )


@cache
def window_order(d: int) -> int:
    """Order ``h`` of the windows of the ``"windows"`` mode for dimension ``d``.

    Among the orders with a Hadamard plan in ``[ceil(d (1 - WINDOW_SLACK)), d]``
    the one with the cheapest plan (then the largest) is chosen; if there is
    none, the largest order ``<= d`` with a plan. Always ``h > d / 2``.
    """
    d = int(d)
    lo = max(1, math.ceil(d * (1.0 - WINDOW_SLACK)))
    best = None
    for h in range(d, lo - 1, -1):
        plan = _hadamard.hadamard_plan(h)
        if plan is not None and (best is None or _plan_cost(plan) < best[0]):
            best = (_plan_cost(plan), h)
    if best is not None:
        return best[1]
    return _hadamard.largest_planned_order(d)


def block_permuted(d: int) -> bool:
    """Whether ``KeepLayout(d)`` permutes by :func:`block_permutation` (by default).

    True where the per-row span path runs on its natural layout (the
    ``"sylvester"`` and ``"hadamard"`` modes with a Sylvester factor of order
    ``M >= SPAN``, so ``d`` is a multiple of ``SPAN``) and ``d >= BLOCK_MIN_D``.
    Below that there are too few blocks: the pair dependence after two
    rounds depends on the draw of the block shuffle and can be twice the
    uniform shuffle's (``bench/results/layout_quality.md``).
    """
    d = int(d)
    if d < BLOCK_MIN_D or keep_mode(d) == "windows":
        return False
    return _hadamard.hadamard_plan(d)[1] >= _simd.SPAN


def default_perm_kind(d: int) -> str:
    """``"blocks"`` where :func:`block_permuted`, else ``"shuffle"``."""
    return "blocks" if block_permuted(d) else "shuffle"


def keep_mode(d: int) -> str:
    """``"sylvester"``, ``"hadamard"`` or ``"windows"``: how ``KeepLayout(d)`` works."""
    d = int(d)
    if _is_pow2(d):
        return "sylvester"
    if _hadamard.hadamard_plan(d) is not None:
        return "hadamard"
    return "windows"


class KeepLayout(Layout):
    """Dimension-preserving layout: ``d_out == d`` for every ``d``.

    Parameters
    ----------
    d : int
        Input dimension, >= 1.
    perm : {"shuffle", "blocks"} or None, default None
        The inter-round permutation; None takes :func:`default_perm_kind`
        (``"blocks"`` only where :func:`block_permuted`). The other kind
        exists to read transforms saved before the default changed.

    Attributes
    ----------
    perm_kind : str
        The inter-round permutation in use (:data:`PERM_KINDS`).
    mode : str
        ``"sylvester"``, ``"hadamard"`` or ``"windows"`` (see the module
        documentation). Every mode permutes the coordinates before each round
        after the first.
    window : int
        Order ``h`` of the Hadamard transforms of one step (``d`` unless the
        mode is ``"windows"``).
    plan : tuple
        ``(cores, M)``: the window Hadamard matrix is
        ``H_{cores[0]} (x) ... (x) H_M``.
    d_out : int
        Equal to ``d``.
    sign_length : int
        Length of each round's sign vector: ``d``, or ``3 d`` in the
        ``"windows"`` mode (one sign vector per step).
    """

    name = "keep"

    def __init__(self, d: int, perm: str | None = None) -> None:
        self.d = int(d)
        if self.d < 1:
            raise ValueError(f"d must be >= 1; got {d}")
        if perm is None:
            perm = default_perm_kind(self.d)
        if perm not in PERM_KINDS:
            raise ValueError(f"perm must be one of {PERM_KINDS} or None; got {perm!r}")
        if perm == "blocks" and not block_permuted(self.d):
            raise ValueError(f"perm='blocks' needs a d that block_permuted() accepts; got d={self.d}")
        self.perm_kind = perm
        self.d_out = self.d
        self.mode = keep_mode(self.d)
        if self.mode == "windows":
            self.window = window_order(self.d)
            starts = [0, self.d - self.window, 0]
        else:
            self.window = self.d
            starts = [0]
        self._perm = keep_permutation(self.d, self.perm_kind)
        self._inv_perm = np.argsort(self._perm).astype(np.int64)
        self._ident = np.arange(self.d, dtype=np.int64)
        self.plan = _hadamard.hadamard_plan(self.window)
        self.sign_length = self.d * len(starts)
        self._starts = np.asarray(starts, dtype=np.int64)
        self._sign_offs = np.arange(len(starts), dtype=np.int64) * self.d
        cores, self._m = self.plan
        self._tabs = {}
        self._terms = 0
        for transpose in (False, True):
            ints, sgn, terms = core_tables(cores, transpose)
            self._terms = max(self._terms, terms)
            for dt in (np.float32, np.float64):
                self._tabs[np.dtype(dt), transpose] = (*ints, sgn.astype(dt))
        self._ones = {np.dtype(dt): np.ones(self.sign_length, dtype=dt) for dt in (np.float32, np.float64)}
        self._step_scale = 1.0 / math.sqrt(self.window)
        self.span = span_plan(self.d, self.perm_kind)
        #: None: :meth:`forward` chooses the path by batch size (:meth:`takes_span`);
        #: True or False forces the span or the tiled path (True where :attr:`span` exists).
        self.use_span = None

    def __repr__(self) -> str:
        cores, m = self.plan
        # the shuffle permutation is what every earlier version used: its repr carries no tag,
        # so that transforms saved by those versions compare equal
        tag = ", perm='blocks'" if self.perm_kind == "blocks" else ""
        return (
            f"KeepLayout(d={self.d}, mode={self.mode!r}, window={self.window}, "
            f"cores={list(cores)}, M={m}{tag})"
        )

    def _tile_width(self, n: int) -> int:
        wide = 2 * _simd.SUM_LANES
        return wide if self.d <= SHORT_ROWS or n >= wide else _simd.SUM_LANES

    def _chunks(self, n: int, tw: int) -> int:
        ntiles = -(-n // tw)
        if ntiles < SERIAL_TILES:
            return 1
        return max(1, min(ntiles, 4 * get_num_threads()))

    def _buffers(self, n: int, dtype: np.dtype):
        tw = self._tile_width(n)
        nch = self._chunks(n, tw)
        width = tw + _kernels_keep.TILE_PAD
        scratch = np.empty((nch, self.d, width), dtype=dtype)
        scratch2 = np.empty((nch, self.d, width), dtype=dtype)
        comb = np.empty((nch, self._terms + 1, width), dtype=dtype)
        bad = np.zeros(nch, dtype=np.bool_)
        over = np.zeros(nch, dtype=np.bool_)
        return scratch, scratch2, comb, tw, bad, over

    @staticmethod
    def _signs_as(signs: np.ndarray, dtype: np.dtype) -> np.ndarray:
        return np.ascontiguousarray(signs, dtype=dtype)

    def forward(
        self,
        x: np.ndarray,
        signs: np.ndarray,
        rounds: int,
        *,
        first: int = 0,
        out: np.ndarray | None = None,
        moments: np.ndarray | None = None,
    ) -> tuple[np.ndarray, bool]:
        """See :meth:`rhtann.layouts.base.Layout.forward`.

        ``signs`` is converted to the dtype of ``x`` when it differs. The
        sums of ``moments`` take one extra pass over ``x`` (the keep kernels
        do not fuse them). Where :meth:`takes_span` says so, the rows go
        through the per-row span kernels (:mod:`rhtann.kernels.keep_span`),
        otherwise through the tiled ones; both compute the same matrix.
        """
        return self.forward_checked(x, signs, rounds, first=first, out=out, moments=moments)[:2]

    def forward_checked(
        self,
        x: np.ndarray,
        signs: np.ndarray,
        rounds: int,
        *,
        first: int = 0,
        out: np.ndarray | None = None,
        moments: np.ndarray | None = None,
    ) -> tuple[np.ndarray, bool, bool]:
        """See :meth:`rhtann.layouts.base.Layout.forward_checked`; the kernels check all they store."""
        dtype = x.dtype
        signs = self._signs_as(signs, dtype)
        if moments is not None:
            square_sums(x, moments)
        if out is None:
            out = empty_output((x.shape[0], self.d), dtype)
        if rounds >= 1 and self.takes_span(x.shape[0]):
            return self._span_forward(x, signs, int(first), int(rounds), out)
        scratch, scratch2, comb, tw, bad, over = self._buffers(x.shape[0], dtype)
        kernel = _kernels_keep.keep_forward if bad.size > 1 else _kernels_keep.keep_forward_serial
        kernel(
            x, signs, int(first), int(rounds), self._starts, self._sign_offs, self.window, self._m,
            self._tabs[dtype, False], dtype.type(self._step_scale), self._perm, self._ident,
            self._ones[dtype], True, out, scratch, scratch2, comb, tw, bad, over,
        )
        return out, bool(bad.any()), bool(over.any())

    def takes_span(self, n: int) -> bool:
        """Whether :meth:`forward` of ``n`` rows runs on the span path.

        The choice depends on ``d`` only, never on ``n``, so that a row's
        output bits do not depend on the batch it came in: the natural span
        layout always takes it (it is faster than the tiles for every batch
        size), the blocked one never (its dense products are slower than the
        tiles' grouped sums on large batches; ``bench/results/transform_speed_keep4.md``).
        :attr:`use_span` overrides the choice.
        """
        if self.span is None:
            return False
        if self.use_span is not None:
            return bool(self.use_span)
        return bool(self.span.natural)

    def _span_forward(
        self, x: np.ndarray, signs: np.ndarray, first: int, rounds: int, out: np.ndarray
    ) -> tuple[np.ndarray, bool, bool]:
        """:meth:`forward_checked` on the span path (:mod:`rhtann.kernels.keep_span`)."""
        sp = self.span
        dtype = x.dtype
        n = x.shape[0]
        scale = dtype.type(self._step_scale)
        if sp.natural:
            ssc = signs[first : first + rounds] * scale
            gx = sp.gx
        else:
            ssc = np.zeros((rounds, sp.p), dtype=dtype)
            ssc[:, sp.real] = signs[first : first + rounds, sp.nat[sp.real]] * scale
            gx = sp.gx_perm if first >= 1 else sp.gx
        mats, mat_t = sp.tables(dtype)
        serial = n < SPAN_SERIAL_ROWS
        if serial:
            nch, per = 1, n
        else:
            groups = -(-n // sp.rows)
            nch = max(1, min(groups, 4 * get_num_threads()))
            per = -(-groups // nch) * sp.rows
            nch = -(-n // per)
        # slot 2 of each chunk separates its buffers from the next chunk's (no false sharing)
        bufs = np.zeros((nch, 3, sp.rows, sp.p), dtype=dtype)
        bufa = bufs[:, 0]
        bufb = bufs[:, 1]
        bad = np.zeros(nch, dtype=np.bool_)
        over = np.zeros(nch, dtype=np.bool_)
        ks = _kernels_span
        if sp.natural:
            kernel = ks.span_natural_forward_serial if serial else ks.span_natural_forward
            kernel(x, out, rounds, first >= 1, ssc, sp.perm, sp.blocks, sp.bsrc, sp.lperm, sp.m,
                   sp.col_k, sp.col_s, sp.col_m, mats, bufa, bufb, per, bad, over)
        else:
            kernel = ks.span_blocked_forward_serial if serial else ks.span_blocked_forward
            kernel(x, out, rounds, ssc, gx, sp.gbuf, sp.fin, sp.kin, sp.col_k, sp.col_s, sp.col_m, mats,
                   mat_t, bufa, bufb, per, bad, over)
        return out, bool(bad.any()), bool(over.any())

    def inverse(
        self, y: np.ndarray, signs: np.ndarray, rounds: int, *, out: np.ndarray | None = None
    ) -> tuple[np.ndarray, bool]:
        """See :meth:`rhtann.layouts.base.Layout.inverse`; the preimage is always exact (square)."""
        return self.inverse_checked(y, signs, rounds, out=out)[:2]

    def inverse_checked(
        self, y: np.ndarray, signs: np.ndarray, rounds: int, *, out: np.ndarray | None = None
    ) -> tuple[np.ndarray, bool, bool]:
        """See :meth:`rhtann.layouts.base.Layout.inverse_checked`; the kernels check all they store."""
        dtype = y.dtype
        signs = self._signs_as(signs, dtype)
        if out is None:
            out = empty_output((y.shape[0], self.d), dtype)
        scratch, scratch2, comb, tw, bad, over = self._buffers(y.shape[0], dtype)
        kernel = _kernels_keep.keep_inverse if bad.size > 1 else _kernels_keep.keep_inverse_serial
        kernel(
            y, signs, int(rounds), self._starts, self._sign_offs, self.window, self._m,
            self._tabs[dtype, True], dtype.type(self._step_scale), self._inv_perm, self._ident,
            self._ones[dtype], True, out, scratch, scratch2, comb, tw, bad, over,
        )
        return out, bool(bad.any()), bool(over.any())

    def native_faiss(self, seed: int, rounds: int):
        """None: no native faiss transform equals this layout (it permutes between rounds)."""
        return None


@cache
def variance_spread(d: int, rounds: int) -> float:
    """Largest ``|d * E[A_ij^2] - 1|`` of the keep transform ``A`` after ``rounds`` rounds.

    ``E[A_ij^2]`` (over the signs) is the variance of output coordinate
    ``i`` for the input ``e_j``; it is exactly ``1/d`` for every ``i, j`` in
    the ``"sylvester"`` and ``"hadamard"`` modes (spread 0). In the
    ``"windows"`` mode each step replaces the window's rows of the matrix of
    expected squared entries by their mean, and the permutation reorders the
    rows. After the first step every column ``j < h`` of that matrix equals
    column 0 and after the second every column ``j >= h`` equals column
    ``d - 1``, so tracking these two columns gives the spread exactly in
    ``O(d)`` per step.

    Parameters
    ----------
    d : int
    rounds : int
        Number of rounds, >= 1.

    Returns
    -------
    float
    """
    d = int(d)
    if keep_mode(d) != "windows":
        return 0.0
    h = window_order(d)
    perm = fixed_permutation(d)
    p = np.zeros((d, 2))
    p[0, 0] = p[d - 1, 1] = 1.0
    for r in range(int(rounds)):
        if r:
            p = p[perm]
        for lo in (0, d - h, 0):
            p[lo : lo + h] = p[lo : lo + h].mean(axis=0)
    return float(np.abs(d * p - 1.0).max())

