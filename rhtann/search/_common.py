"""Shared pieces of the code indexes: checks, rotation, code storage, file state."""

from __future__ import annotations

import os
from numbers import Integral

import numpy as np

from .. import io as _fileformat
from .._validation import as_matrix, check_int
from ..codecs.base import Codec
from ..codecs.lloydmax import TQ, parse_token
from ..kernels import dense as _dense
from ..kernels import results as _results
from ..kernels import scan as K
from ..kernels import tables as _tables
from ..kernels.scan_simd import LANES
from ..transform import RHT

METRICS = ("l2", "ip", "cosine")
_FMAX = float(np.finfo(np.float32).max)


def check_metric(metric: object) -> str:
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS}; got {metric!r}")
    return str(metric)


def make_codec(codec: object, d: int) -> Codec:
    """A codec instance from an instance or a ``TQ{b}`` token, checked against dimension ``d``."""
    if isinstance(codec, str):
        parsed = parse_token(codec)
        if parsed is None:
            raise ValueError(f"unknown codec token {codec!r} (expected e.g. 'TQ4', or a Codec instance)")
        codec = TQ(d, parsed["bits"], scale_dtype=parsed["scale_dtype"], extra=parsed["extra"])
    if not isinstance(codec, Codec):
        raise TypeError(f"codec must be a rhtann Codec or a token string; got {type(codec).__name__}")
    if codec.d != d:
        raise ValueError(f"codec dimension {codec.d} does not match the rotated dimension {d}")
    return codec


def codec_from_state(meta: dict) -> Codec:
    """Rebuild a codec saved with :func:`codec_state`."""
    name = str(meta.get("name", ""))
    if parse_token(name) is not None:
        return TQ.from_state(meta)
    raise ValueError(f"cannot rebuild codec {name!r} from a file (only TQ codecs are known here)")


def check_rht(rht: object, d: int) -> RHT | None:
    if rht is None:
        return None
    if not isinstance(rht, RHT):
        raise TypeError(f"rht must be an rhtann.RHT or None; got {type(rht).__name__}")
    if rht.d_in != d:
        raise ValueError(f"rht.d_in={rht.d_in} does not match d={d}")
    return rht


def check_k(k: object, name: str = "k") -> int:
    return check_int(k, name, 1)


def check_ids(ids: object, n: int) -> np.ndarray | None:
    if ids is None:
        return None
    arr = np.asarray(ids)
    if arr.shape != (n,) or arr.dtype.kind not in "iu":
        raise ValueError(
            f"ids must be an integer array of shape ({n},); got dtype {arr.dtype} shape {arr.shape}"
        )
    arr = arr.astype(np.int64)
    if n and arr.min() < 0:
        raise ValueError("ids must be non-negative (-1 marks missing results)")
    return arr


def finite(x: np.ndarray, name: str) -> np.ndarray:
    if not np.isfinite(x).all():
        raise ValueError(f"{name} contains NaN or infinite values; all entries must be finite")
    return x


def prepare_vectors(x: object, name: str, d: int, metric: str, rht: RHT | None) -> np.ndarray:
    """Validated, normalized (cosine) and rotated float32 rows (an untrained ``rht`` is trained on them)."""
    x = finite(as_matrix(x, name, d), name)
    if rht is not None and not rht.is_trained:
        rht.train(normalized(x) if metric == "cosine" else x)
    return rotate_checked(x, name, metric, rht)


def normalized(x: np.ndarray) -> np.ndarray:
    """Rows of float32 ``x`` (n, d) scaled to unit norm, a new float32 array (zero rows stay zero).

    The arithmetic of :func:`rhtann.kernels.dense.normalize_rows`, which the
    single-query call (:func:`rhtann.kernels.query.flat_search_one`) also
    uses, so a query normalized here and there gets the same bits.
    """
    x = np.ascontiguousarray(x, dtype=np.float32)
    out = np.empty_like(x)
    _dense.normalize_rows(x, out)
    return out


def row_dots(x: np.ndarray, v: np.ndarray) -> np.ndarray:
    """``<x[i], v>`` of float32 rows ``x`` (n, d) and ``v`` (d,) as float32 (n,), summed in float64."""
    out = np.empty(x.shape[0], dtype=np.float32)
    _dense.row_dots(np.ascontiguousarray(x, dtype=np.float32), np.ascontiguousarray(v, dtype=np.float32), out)
    return out


def rotate_checked(x: np.ndarray, name: str, metric: str, rht: RHT | None) -> np.ndarray:
    """Normalized (cosine) and rotated rows of checked input.

    Parameters
    ----------
    x : ndarray of float32, shape (n, d), C-contiguous and finite
        Rows already validated by the caller (:func:`finite` of
        ``as_matrix``); the search paths call this once per batch, so the
        checks are not repeated.
    name : str
        Argument named by errors of the rotation.
    metric : str
    rht : RHT or None
        A trained rotation.

    Returns
    -------
    ndarray of float32, shape (n, d_out), C-contiguous
    """
    if metric == "cosine":
        x = normalized(x)
    if rht is not None:
        x = rht._forward(np.ascontiguousarray(x, dtype=np.float32), rht._check_trained(), None, name)
    return np.ascontiguousarray(x, dtype=np.float32)


#: Largest ``d_in * d_out`` for which queries are rotated by a dense float64 product.
DENSE_QUERY_MAX = 256 * 256


class QueryRotation:
    """The rotation of query batches: a dense product for small transforms, the kernels otherwise.

    For ``rht.d_in * rht.d_out <= DENSE_QUERY_MAX`` a query batch is
    multiplied by the transform's matrix with float32 entries (built on
    first use, ``4 * d_in * d_out`` bytes), which for a few queries costs
    less than starting the transform kernels. The products and their sums
    are float64 (a float32 query times a float32 entry is exact in float64),
    rounded once to float32; the entries' own rounding keeps the result
    within a few float32 units of the exact rotation. float32 entries halve
    what a single query reads: after a scan has pushed the matrix out of the
    caches, reading it back is most of a single query's rotation.
    Non-finite results (NaN or infinity in the queries, or float32
    overflow) go through the kernels instead, which
    rotate large finite values safely and name the argument for NaN.
    Larger transforms always use the kernels. Safe to share between
    threads (the matrix is built at most a few times, never changed).
    """

    def __init__(self, rht: RHT | None, metric: str) -> None:
        self.rht = rht
        self.metric = metric
        self._mt: np.ndarray | None = None

    def dense(self) -> np.ndarray | None:
        """The transposed matrix, float32 (d_in, d_out), or None where the kernels rotate."""
        rht = self.rht
        if rht is None or rht.d_in * rht.d_out > DENSE_QUERY_MAX:
            return None
        mt = self._mt
        if mt is None:
            mt = self._mt = np.ascontiguousarray(rht.matrix().T, dtype=np.float32)
        return mt

    def __call__(self, x: np.ndarray, name: str = "q") -> np.ndarray:
        """Normalized (cosine) and rotated rows of checked float32 input ``x`` (n, d)."""
        mt = self.dense()
        if mt is None:
            return rotate_checked(x, name, self.metric, self.rht)
        xs = normalized(x) if self.metric == "cosine" else x
        y = np.empty((xs.shape[0], mt.shape[1]), dtype=np.float32)
        if _dense.rotate_dense(xs, mt, y, np.empty(mt.shape[1])):
            return y
        return rotate_checked(x, name, self.metric, self.rht)


#: Largest entry of the byte tables of the fast scan for codes of at most :data:`NARROW_TABLES`
#: nibbles. At 127 or less the scanners add the two looked-up bytes of a pair as bytes
#: (:func:`rhtann.kernels.scan.narrow_tables`); longer codes keep the whole byte, since the
#: rounding of their sums grows with the number of tables (docs/codecs.md).
TABLE_TOP = 127
#: Most nibbles per code whose tables use :data:`TABLE_TOP`; longer codes use 255.
NARROW_TABLES = 256


def aligned_zeros(shape: int | tuple[int, ...], dtype: type | np.dtype) -> np.ndarray:
    """A zeroed C-contiguous array whose data starts at a multiple of
    :data:`rhtann.kernels.scan.ALIGN` bytes (:func:`rhtann.kernels.scan.aligned_bytes`)."""
    dt = np.dtype(dtype)
    shape = (shape,) if isinstance(shape, Integral) else tuple(shape)
    nbytes = int(np.prod(shape, dtype=np.int64)) * dt.itemsize
    return K.aligned_bytes(nbytes).view(dt).reshape(shape)


def table_top(nibbles: int) -> int:
    """Largest byte-table entry for codes of ``nibbles`` nibbles (:data:`TABLE_TOP` or 255)."""
    return TABLE_TOP if nibbles <= NARROW_TABLES else 255

#: Id map of an index whose ids are its positions.
NO_IDS = np.zeros(0, dtype=np.int64)


class ScanPath:
    """The search steps around the scan that :class:`CodecFlat` and :class:`CodecIVF` share.

    Expects ``rht``, ``metric``, ``codec`` (a nibble codec for the table
    steps) and ``store`` (:class:`CodeStore`) on the instance, and
    :meth:`_id_map` for the ids of stored positions.
    """

    def _rotation(self) -> QueryRotation:
        rot = getattr(self, "_qrot", None)
        if rot is None or rot.rht is not self.rht or rot.metric != self.metric:
            rot = self._qrot = QueryRotation(self.rht, self.metric)
        return rot

    def _queries(self, qm: np.ndarray) -> np.ndarray:
        """Rotated (normalized for cosine) checked queries (:class:`QueryRotation`)."""
        return self._rotation()(qm)

    def _alpha(self) -> float:
        return 2.0 if self.metric == "l2" else 1.0

    def _tables(self, yq: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Float tables, byte tables and their affine map (``alpha`` applied) of rotated queries.

        Raises ``ValueError`` naming ``q`` when a query's tables overflow float32.
        """
        m, codec = yq.shape[0], self.codec
        lut = np.empty((m, codec.nibbles, 16), dtype=np.float32)
        luts = aligned_zeros((m, self.store.P * 64), np.uint8)
        a = np.empty(m, dtype=np.float32)
        b = np.empty(m, dtype=np.float32)
        bad = _tables.query_tables(
            yq, codec.levels, codec.bits, self._alpha(), table_top(codec.nibbles), lut, luts, a, b
        )
        if bad >= 0:
            raise ValueError(
                f"q: the lookup tables of query row {bad} overflow float32 (its inner products with the "
                f"code levels exceed {_FMAX:.1e}); scale the queries down"
            )
        return lut, luts, a, b

    def _rescore(
        self, lut: np.ndarray, cand: np.ndarray, k: int, yq: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Exact scores from the codes of the candidates ``cand`` (m, c): the best ``k`` per query."""
        st, m = self.store, yq.shape[0]
        out_s = np.empty((m, k), dtype=np.float32)
        out_i = np.empty((m, k), dtype=np.int64)
        K.rescore_topk(
            st.codes, st.P, lut, self._alpha(), st.sv, st.ev, cand, k, out_s, out_i, yq,
            st.ref, st.delta, st.R, st.bits,
        )
        return out_s, out_i

    def _id_map(self) -> np.ndarray:
        """Id of each stored position, or :data:`NO_IDS` when ids are the positions."""
        raise NotImplementedError

    def _finish(self, qm: np.ndarray, scores: np.ndarray, pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """faiss-convention ``D`` (float32) and ids (int64) of internal scores and positions."""
        D = np.empty(scores.shape, dtype=np.float32)
        ids = np.empty(scores.shape, dtype=np.int64)
        _results.finish_rows(qm, scores, pos, self.metric == "l2", self._id_map(), D, ids)
        return D, ids


def rht_state(rht: RHT | None) -> dict | None:
    return None if rht is None else rht.__getstate__()


def rht_from_state(state: dict | None, signs: bytes | None) -> RHT | None:
    if state is None:
        return None
    obj = RHT.__new__(RHT)
    obj.__setstate__(state)
    if signs is not None and signs != obj.signs.tobytes():
        raise ValueError("stored RHT sign vectors differ from the ones its seed generates")
    return obj


def squared_norms(q: np.ndarray, metric: str) -> np.ndarray:
    """Squared row norms of the queries for ``"l2"`` (zeros otherwise), float32 (m,)."""
    if metric != "l2":
        return np.zeros(q.shape[0], dtype=np.float32)
    if q.shape[0] == 1:
        return np.array([np.dot(q[0], q[0])], dtype=np.float32)
    return np.einsum("ij,ij->i", q, q).astype(np.float32)


def scores_to_distances(scores: np.ndarray, pos: np.ndarray, metric: str, qn2: np.ndarray) -> np.ndarray:
    """faiss-convention distances (float32, new array) from internal scores (larger is better)."""
    missing = pos < 0
    if metric == "l2":
        out = np.subtract(qn2[:, None], scores, dtype=np.float32)
        np.maximum(out, 0, out=out)
        fill = _FMAX
    else:
        out = np.array(scores, dtype=np.float32)
        fill = -_FMAX
    if missing.any():
        out[missing] = fill
    return out


class CodeStore:
    """Codes of one index in the scanners' layout, grown by doubling.

    For nibble codecs (TQ with 1, 2 or 4 bits) the index bytes are kept
    block-interleaved (see :mod:`rhtann.kernels.scan`) with a float32 scale
    per vector; other codecs keep their row-major codes. ``ev`` holds the
    squared norm of each decoded vector for L2 (empty otherwise).
    """

    def __init__(self, codec: Codec, metric: str) -> None:
        self.codec = codec
        self.metric = metric
        self.fast = isinstance(codec, TQ) and codec.nibbles > 0
        self.n = 0
        if self.fast:
            self.P = (codec.nibbles + 1) // 2
            self.codes = np.zeros(0, dtype=np.uint8)
        else:
            self.P = 0
            self.codes = np.zeros((0, codec.code_size), dtype=np.uint8)
        self.half = self.fast and codec.scale_bytes == 2
        #: Largest scale and smallest offset stored (bounds of the fast scan's integer pre-filter).
        self.smax = 0.0
        self.emin = float("inf")
        self.sv = np.zeros(0, dtype=np.uint16 if self.half else np.float32)
        self.ev = np.zeros(0, dtype=np.float32)
        self.R = int(getattr(codec, "extra", 0)) if self.fast else 0
        self.RB = (self.R + 7) // 8
        self.ref = np.zeros((0, max(self.RB, 1)), dtype=np.uint8)
        self.bits = int(codec.bits) if self.fast else 4
        #: Counts the changes of the stored arrays (readers may cache what they derive from them).
        self.version = 0

    @property
    def delta(self) -> np.ndarray:
        """The codec's current refinement table (it changes when the codec is trained)."""
        return self.codec.ref_delta if self.fast else np.zeros(2, dtype=np.float32)

    @property
    def bytes_per_vector(self) -> int:
        per = (self.P + self.RB + self.codec.scale_bytes) if self.fast else self.codec.code_size
        return per + (4 if self.metric == "l2" else 0)

    def _grow(self, need: int) -> None:
        self.version += 1
        cap = self.sv.shape[0]
        if need <= cap:
            return
        new = max(LANES, ((max(need, 2 * cap) + LANES - 1) // LANES) * LANES)
        sv = aligned_zeros(new, self.sv.dtype)
        ev = aligned_zeros(new, np.float32)
        ev.fill(np.inf)
        sv[: self.n] = self.sv[: self.n]
        ev[: self.n] = self.ev[: self.n]
        self.sv, self.ev = sv, ev
        ref = np.zeros((new, self.ref.shape[1]), dtype=np.uint8)
        ref[: self.n] = self.ref[: self.n]
        self.ref = ref
        if self.fast:
            codes = aligned_zeros(new * self.P, np.uint8)
            codes[: self.codes.shape[0]] = self.codes
            self.codes = codes
        else:
            codes = np.zeros((new, self.codec.code_size), dtype=np.uint8)
            codes[: self.n] = self.codes[: self.n]
            self.codes = codes

    def append(self, codes: np.ndarray, ids: np.ndarray) -> None:
        """Append codec codes (n, code_size) encoded for ``ids``."""
        self.put(codes, ids, self.n)

    def put(self, codes: np.ndarray, ids: np.ndarray, start: int) -> None:
        """Write codec codes (n, code_size) at positions ``start ..``; ``n`` grows to cover them."""
        n = codes.shape[0]
        self._grow(start + n)
        if self.fast:
            rows = np.zeros((n, self.P), dtype=np.uint8)
            rows[:, : self.codec.index_bytes] = codes[:, : self.codec.index_bytes]
            K.interleave_into(rows, start, self.codes)
            ib = self.codec.index_bytes
            self.ref[start : start + n, : self.RB] = codes[:, ib : ib + self.RB]
            s = self.codec.unpack(codes)[2]
            self.sv[start : start + n] = s.astype(np.float16).view(np.uint16) if self.half else s
        else:
            self.codes[start : start + n] = codes
            self.sv[start : start + n] = 1.0
        if self.metric == "l2":
            dec = self.codec.decode(codes, ids)
            self.ev[start : start + n] = np.einsum("ij,ij->i", dec, dec)
        else:
            self.ev[start : start + n] = 0.0
        self.n = max(self.n, start + n)
        self._update_bounds(self.sv[start : start + n], self.ev[start : start + n])

    def _update_bounds(self, sv: np.ndarray, ev: np.ndarray) -> None:
        self.version += 1
        if len(sv) == 0:
            return
        s = sv.view(np.float16).astype(np.float32) if self.half else sv
        self.smax = max(self.smax, float(np.max(s)))
        self.emin = min(self.emin, float(np.min(ev)))

    def row_codes(self, pos: np.ndarray) -> np.ndarray:
        """Codec codes (len(pos), code_size) of stored positions."""
        if not self.fast:
            return self.codes[pos]
        rows = np.zeros((pos.shape[0], self.P), dtype=np.uint8)
        K.deinterleave(self.codes, self.P, pos.astype(np.int64), rows)
        idx_bytes = rows[:, : self.codec.index_bytes]
        s = self.sv[pos].astype("<u2" if self.half else "<f4")
        parts = [idx_bytes, self.ref[pos, : self.RB], s.view(np.uint8).reshape(len(pos), s.itemsize)]
        return np.ascontiguousarray(np.concatenate(parts, axis=1))

    def nblocks(self) -> int:
        return (self.n + LANES - 1) // LANES

    # -- files --------------------------------------------------------------
    def blobs(self) -> dict[str, bytes]:
        nv = self.nblocks() * LANES
        if self.fast:
            codes = self.codes[: nv * self.P].tobytes()
        else:
            codes = self.codes[: self.n].tobytes()
        out = {"codes": codes, "sv": self.sv[: self.n].tobytes(), "ev": self.ev[: self.n].tobytes()}
        if self.RB:
            out["ref"] = np.ascontiguousarray(self.ref[: self.n, : self.RB]).tobytes()
        return out

    def restore(self, n: int, blobs: dict[str, bytes]) -> None:
        self.n = 0
        self._grow(n)
        nv = ((n + LANES - 1) // LANES) * LANES
        want = nv * self.P if self.fast else n * self.codec.code_size
        sizes = [("codes", want), ("sv", self.sv.itemsize * n), ("ev", 4 * n)] + (
            [("ref", self.RB * n)] if self.RB else []
        )
        for name, size in sizes:
            if len(blobs.get(name, b"")) != size:
                raise ValueError(f"blob {name!r} has {len(blobs.get(name, b''))} bytes, expected {size}")
        codes = np.frombuffer(blobs["codes"], dtype=np.uint8)
        if self.fast:
            self.codes[:want] = codes
        else:
            self.codes[:n] = codes.reshape(n, self.codec.code_size)
        self.sv[:n] = np.frombuffer(blobs["sv"], dtype=self.sv.dtype)
        self.ev[:n] = np.frombuffer(blobs["ev"], dtype=np.float32)
        if self.RB:
            self.ref[:n, : self.RB] = np.frombuffer(blobs["ref"], dtype=np.uint8).reshape(n, self.RB)
        self.n = n
        valid = np.isfinite(self.ev[:n])
        self._update_bounds(self.sv[:n][valid], self.ev[:n][valid])


def read_file(path: str | os.PathLike, kind: str) -> tuple[dict, dict[str, bytes]]:
    return _fileformat.read_container(path, kind)


def write_file(path: str | os.PathLike, kind: str, meta: dict, blobs: dict[str, bytes]) -> None:
    _fileformat.write_container(path, kind, meta, blobs)


def is_int(x: object) -> bool:
    return isinstance(x, Integral) and not isinstance(x, bool)
