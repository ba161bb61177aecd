"""SIMD building blocks of the keep layout's per-row ("span") path.

Both families apply a small dense +-1 core with one fused multiply-add per
output, input and 8-lane vector, the core's entries broadcast from a small
table that stays in L1:

* ``col_core{B}x{W}`` (:func:`_make_col_core`): ``B`` outputs of a core
  acting on coordinates ``stride`` apart, vectorized along the contiguous
  index below it (``8 W`` consecutive positions per call);
* ``row_core1``, ``row_core2``, ``row_core3`` (:func:`_make_row_core`): a
  core acting on the contiguous index, as a small matrix product of 4 rows
  of a row-major buffer with the transposed core (1 to 3 vectors of 8
  outputs per call).

Every intrinsic takes arrays of one float dtype whose elements are
contiguous in memory (the caller guarantees it) and indexes them as flat
runs from their data pointers, with offsets in elements; the caller
guarantees that every access is inside the arrays. The vectors are always 8
lanes wide (one register for float32 on AVX2; LLVM splits them for float64).

``gather8`` and ``gather8_scaled`` fetch 8 values through an int32 index
vector with one masked gather, for the permutations between rounds;
:func:`span_low_gather` fuses such gathers into the first Sylvester stages,
and :func:`span_low_blocks` does the same for the block-and-lane
permutations with block loads, lane permutes and a transpose instead of
gathers (``llvm.x86.avx2.permps`` on AVX2 hosts, element moves elsewhere).

numba's on-disk cache is keyed on the source of the module that calls an
intrinsic: after editing this file, delete the ``*.nbi``/``*.nbc`` files under
``rhtann/kernels/__pycache__``.
"""

from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from .scan_simd import HAS_AVX2
from .simd import SPAN, _Vec, low_butterflies

#: Lanes of every vector the intrinsics load and store.
LANES = 8
#: Rows of one :func:`_make_row_core` product.
ROW_BLOCK = 4


def _float_arrays(*arrays) -> bool:
    first = arrays[0]
    return all(
        isinstance(a, types.Array) and isinstance(a.dtype, types.Float) and a.dtype == first.dtype
        for a in arrays
    )


class _Flat:
    """Typed pointers into the flat data of C-contiguous arrays."""

    def __init__(self, context, builder, dtype):
        self.context = context
        self.builder = builder
        self.elty = context.get_data_type(dtype)
        self.vecty = ir.VectorType(self.elty, LANES)
        self.intp = context.get_value_type(types.intp)
        suffix = "f32" if self.elty == ir.FloatType() else "f64"
        self.fma = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(self.vecty, [self.vecty] * 3), f"llvm.fma.v{LANES}{suffix}"
        )

    def array(self, aryty, value):
        return self.context.make_array(aryty)(self.context, self.builder, value)

    def const(self, value):
        return ir.Constant(self.intp, value)

    def at(self, ary, idx, vector=True):
        """Pointer to element ``idx`` (intp) of ``ary``, typed as a vector or a scalar."""
        b = self.builder
        p = b.gep(b.bitcast(ary.data, self.elty.as_pointer()), [idx])
        return b.bitcast(p, self.vecty.as_pointer()) if vector else p

    def splat(self, value):
        b = self.builder
        undef = ir.Constant(self.vecty, ir.Undefined)
        one = b.insert_element(undef, value, ir.Constant(ir.IntType(32), 0))
        return b.shuffle_vector(one, undef, ir.Constant(ir.VectorType(ir.IntType(32), LANES), [0] * LANES))

    def zeros(self, count):
        """``count`` stack slots holding zero vectors (promoted to registers by LLVM)."""
        slots = [cgutils.alloca_once(self.builder, self.vecty) for _ in range(count)]
        for s in slots:
            self.builder.store(ir.Constant(self.vecty, None), s)
        return slots


def _make_col_core(block: int, width: int):
    """Build ``f(src, dst, base, stride, k, mat, m0, i0)``: ``block`` outputs of a core of order ``k``.

    For ``b < block`` and the ``8 width`` lanes ``l``: ``dst[base + (i0 + b)
    stride + l] = sum_{j < k} mat[m0 + j k + i0 + b] src[base + j stride +
    l]``. ``mat[m0:]`` holds the core transposed (row-major ``(k, k)``, entry
    ``(i, j)`` of the core at ``j k + i``), so that the ``block`` entries one
    input meets are adjacent; ``dst`` must not overlap the inputs. Each
    input vector is loaded once and each entry of the core broadcast once
    per call, for ``block * width`` (at most 12) accumulators.
    """

    def typer(typingctx, src, dst, base, stride, k, mat, m0, i0):
        if not _float_arrays(src, dst, mat):
            return None
        sig = types.void(src, dst, base, stride, k, mat, m0, i0)

        def codegen(context, builder, signature, args):
            tys = signature.args
            f = _Flat(context, builder, tys[0].dtype)
            sary, dary, mary = f.array(tys[0], args[0]), f.array(tys[1], args[1]), f.array(tys[5], args[5])
            base_v, stride_v, k_v, m0_v, i0_v = (
                context.cast(builder, args[i], tys[i], types.intp) for i in (2, 3, 4, 6, 7)
            )
            acc = f.zeros(block * width)
            first = builder.add(m0_v, i0_v)
            with cgutils.for_range(builder, k_v) as loop:
                j = loop.index
                at = builder.add(base_v, builder.mul(j, stride_v))
                xs = [builder.load(f.at(sary, builder.add(at, f.const(LANES * w))), align=4)
                      for w in range(width)]
                mrow = f.at(mary, builder.add(first, builder.mul(j, k_v)), vector=False)
                for b in range(block):
                    s = f.splat(builder.load(builder.gep(mrow, [f.const(b)])))
                    for w in range(width):
                        slot = acc[b * width + w]
                        builder.store(builder.call(f.fma, [s, xs[w], builder.load(slot)]), slot)
            for b in range(block):
                pos = builder.add(base_v, builder.mul(builder.add(i0_v, f.const(b)), stride_v))
                for w in range(width):
                    builder.store(builder.load(acc[b * width + w]),
                                  f.at(dary, builder.add(pos, f.const(LANES * w))), align=4)
            return context.get_dummy_value()

        return sig, codegen

    typer.__name__ = f"col_core{block}x{width}"
    return intrinsic(typer)


col_core12x1 = _make_col_core(12, 1)
col_core8x1 = _make_col_core(8, 1)
col_core4x1 = _make_col_core(4, 1)
col_core6x2 = _make_col_core(6, 2)
col_core4x2 = _make_col_core(4, 2)
col_core2x2 = _make_col_core(2, 2)
col_core4x3 = _make_col_core(4, 3)


def _make_row_core(width: int):
    """Build ``f(src, dst, r0, ld, k, mat_t, ldm, c0)``: ``width`` vectors of outputs of 4 rows.

    Rows ``r0 .. r0 + 3`` of the row-major buffers (``ld`` elements per row)
    are multiplied by the transposed core: for ``t < 4`` and
    ``c0 <= c < c0 + 8 width``, ``dst[(r0 + t) ld + c] = sum_{j < k}
    src[(r0 + t) ld + j] * mat_t[j ldm + c]``. ``mat_t`` is row-major
    ``(k, ldm)``; ``dst`` must not overlap ``src``.
    """

    def typer(typingctx, src, dst, r0, ld, k, mat_t, ldm, c0):
        if not _float_arrays(src, dst, mat_t):
            return None
        sig = types.void(src, dst, r0, ld, k, mat_t, ldm, c0)

        def codegen(context, builder, signature, args):
            tys = signature.args
            f = _Flat(context, builder, tys[0].dtype)
            sary, dary, mary = f.array(tys[0], args[0]), f.array(tys[1], args[1]), f.array(tys[5], args[5])
            r0_v, ld_v, k_v, ldm_v, c0_v = (
                context.cast(builder, args[i], tys[i], types.intp) for i in (2, 3, 4, 6, 7)
            )
            acc = f.zeros(ROW_BLOCK * width)
            starts = [builder.mul(builder.add(r0_v, f.const(t)), ld_v) for t in range(ROW_BLOCK)]
            with cgutils.for_range(builder, k_v) as loop:
                j = loop.index
                mrow = builder.add(builder.mul(j, ldm_v), c0_v)
                h = [builder.load(f.at(mary, builder.add(mrow, f.const(LANES * c))), align=4)
                     for c in range(width)]
                for t in range(ROW_BLOCK):
                    xs = f.splat(builder.load(f.at(sary, builder.add(starts[t], j), vector=False)))
                    for c in range(width):
                        slot = acc[t * width + c]
                        builder.store(builder.call(f.fma, [xs, h[c], builder.load(slot)]), slot)
            for t in range(ROW_BLOCK):
                for c in range(width):
                    pos = builder.add(builder.add(starts[t], c0_v), f.const(LANES * c))
                    builder.store(builder.load(acc[t * width + c]), f.at(dary, pos), align=4)
            return context.get_dummy_value()

        return sig, codegen

    typer.__name__ = f"row_core{width}"
    return intrinsic(typer)


row_core1 = _make_row_core(1)
row_core2 = _make_row_core(2)
row_core3 = _make_row_core(3)


def _gather(builder, elty, base, iptr, lanes):
    """One masked gather: ``base[iptr[l]]`` for ``l < lanes`` (``iptr``: pointer to int32 offsets)."""
    i32 = ir.IntType(32)
    offs = builder.load(builder.bitcast(iptr, ir.VectorType(i32, lanes).as_pointer()), align=4)
    # a vector GEP (one address per lane); llvmlite types GEPs by scalar indices only
    ptrs = ir.instructions.GEPInstr(builder.block, base, [offs], inbounds=True, name="", source_etype=elty)
    ptrs.type = ir.VectorType(elty.as_pointer(), lanes)
    builder._insert(ptrs)
    suffix = "f32" if elty == ir.FloatType() else "f64"
    vecty = ir.VectorType(elty, lanes)
    mask_ty = ir.VectorType(ir.IntType(1), lanes)
    fn = cgutils.get_or_insert_function(
        builder.module, ir.FunctionType(vecty, [ptrs.type, i32, mask_ty, vecty]),
        f"llvm.masked.gather.v{lanes}{suffix}.v{lanes}p0{suffix}",
    )
    return builder.call(fn, [ptrs, ir.Constant(i32, 4), ir.Constant(mask_ty, [1] * lanes),
                             ir.Constant(vecty, ir.Undefined)])


def _make_gather(scaled: bool):
    """Build ``f(src, dst, j, idx[, s])``: ``dst[j + l] = src[idx[j + l]] (* s[j + l])`` for ``l < 8``.

    ``idx`` is an int32 array of element offsets into ``src``; the 8 values
    are fetched by one masked gather (``vgatherdps`` on AVX2).
    """

    def build(src, dst, j, idx, *rest):
        arrays = (src, dst, *rest)
        if not (_float_arrays(*arrays) and isinstance(idx, types.Array) and idx.dtype == types.int32):
            return None
        sig = types.void(src, dst, j, idx, *rest)

        def codegen(context, builder, signature, args):
            tys = signature.args
            f = _Flat(context, builder, tys[0].dtype)
            sary, dary, iary = f.array(tys[0], args[0]), f.array(tys[1], args[1]), f.array(tys[3], args[3])
            j_v = context.cast(builder, args[2], tys[2], types.intp)
            i32 = ir.IntType(32)
            ip = builder.gep(builder.bitcast(iary.data, i32.as_pointer()), [j_v])
            val = _gather(builder, f.elty, builder.bitcast(sary.data, f.elty.as_pointer()), ip, LANES)
            if scaled:
                gary = f.array(tys[4], args[4])
                val = builder.fmul(val, builder.load(f.at(gary, j_v), align=4))
            builder.store(val, f.at(dary, j_v), align=4)
            return context.get_dummy_value()

        return sig, codegen

    if scaled:

        def typer(typingctx, src, dst, j, idx, s):
            return build(src, dst, j, idx, s)

    else:

        def typer(typingctx, src, dst, j, idx):
            return build(src, dst, j, idx)

    typer.__name__ = f"gather8{'_scaled' if scaled else ''}"
    return intrinsic(typer)


gather8 = _make_gather(False)
gather8_scaled = _make_gather(True)


@intrinsic
def span_low_gather(typingctx, src, idx, dst, dj, s, sr):
    """:func:`rhtann.kernels.simd.span_low_signed` on values gathered through ``idx``.

    Loads ``v[l] = src[idx[dj + l]]`` for ``l < SPAN`` (masked gathers of
    one register each; ``idx`` int32 offsets into the flat ``src``), then
    does exactly what ``span_low_signed`` does: multiplies by the signs
    ``s[sr, dj:dj+SPAN]``, applies the butterflies of strides 1 .. SPAN/2 and
    stores to ``dst[0, dj:dj+SPAN]`` (``dst`` must not be ``src``).
    """
    if not (
        _float_arrays(src, dst, s) and dst.ndim == 2 and s.ndim == 2
        and isinstance(idx, types.Array) and idx.dtype == types.int32
    ):
        return None
    sig = types.void(src, idx, dst, dj, s, sr)

    def codegen(context, builder, signature, args):
        tys = signature.args
        sary = context.make_array(tys[0])(context, builder, args[0])
        iary = context.make_array(tys[1])(context, builder, args[1])
        dary = context.make_array(tys[2])(context, builder, args[2])
        gary = context.make_array(tys[4])(context, builder, args[4])
        vec = _Vec(context, builder, tys[0].dtype)
        dj_v, sr_v = (context.cast(builder, args[k], tys[k], types.intp) for k in (3, 5))
        lanes = vec.part
        i32 = ir.IntType(32)
        base = builder.bitcast(sary.data, vec.elty.as_pointer())
        ibase = builder.bitcast(iary.data, i32.as_pointer())
        vals = [
            _gather(builder, vec.elty, base, builder.gep(ibase, [builder.add(dj_v, vec.const(q * lanes))]),
                    lanes)
            for q in range(SPAN // lanes)
        ]
        _signed_low_store(builder, vec, vals, gary, sr_v, dary, dj_v)
        return context.get_dummy_value()

    return sig, codegen


def _signed_low_store(builder, vec, vals, gary, sr_v, dary, dj_v):
    """Signs ``s[sr, dj:dj+SPAN]``, butterflies of strides 1 .. SPAN/2, store to ``dst[0, dj:]``.

    ``vals`` are the ``SPAN / vec.part`` registers of the span's values in
    order; the steps are those of :func:`rhtann.kernels.simd.span_low_signed`.
    """
    lanes = vec.part
    zero = vec.const(0)
    vals = [
        builder.fmul(v, builder.load(vec.ptr(gary, sr_v, builder.add(dj_v, vec.const(q * lanes)), vec.partty),
                                     align=4))
        for q, v in enumerate(vals)
    ]
    for q, v in enumerate(low_butterflies(builder, vec, vals)):
        ptr = vec.ptr(dary, zero, builder.add(dj_v, vec.const(q * lanes)), vec.partty)
        builder.store(v, ptr, align=4)


def _lane_permute(builder, v, idx, native):
    """``w[a] = v[idx[a]]`` for 8-lane ``v`` and int32 ``idx`` (``vpermps`` where ``native``)."""
    if native:
        fn = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(v.type, [v.type, idx.type]), "llvm.x86.avx2.permps"
        )
        return builder.call(fn, [v, idx])
    w = ir.Constant(v.type, ir.Undefined)
    i32 = ir.IntType(32)
    for a in range(LANES):
        lane = builder.extract_element(idx, ir.Constant(i32, a))
        w = builder.insert_element(w, builder.extract_element(v, lane), ir.Constant(i32, a))
    return w


def _transpose8(builder, rows):
    """The 8 x 8 transpose of 8 registers of 8 lanes.

    Lane ``b`` of output ``a`` is lane ``a`` of ``rows[b]``.
    """
    i32 = ir.IntType(32)

    def mix(u, v, mask):
        return builder.shuffle_vector(u, v, ir.Constant(ir.VectorType(i32, LANES), mask))

    # interleave pairs of rows, then pairs of pairs, then the two 4-lane halves
    t = []
    for k in range(0, 8, 2):
        t.append(mix(rows[k], rows[k + 1], [0, 8, 1, 9, 4, 12, 5, 13]))
        t.append(mix(rows[k], rows[k + 1], [2, 10, 3, 11, 6, 14, 7, 15]))
    u = []
    for k in (0, 4):
        u.append(mix(t[k], t[k + 2], [0, 1, 8, 9, 4, 5, 12, 13]))
        u.append(mix(t[k], t[k + 2], [2, 3, 10, 11, 6, 7, 14, 15]))
        u.append(mix(t[k + 1], t[k + 3], [0, 1, 8, 9, 4, 5, 12, 13]))
        u.append(mix(t[k + 1], t[k + 3], [2, 3, 10, 11, 6, 7, 14, 15]))
    out = [None] * 8
    for k in range(4):
        out[k] = mix(u[k], u[k + 4], [0, 1, 2, 3, 8, 9, 10, 11])
        out[k + 4] = mix(u[k], u[k + 4], [4, 5, 6, 7, 12, 13, 14, 15])
    return out


def _regroup(builder, vecs, lanes):
    """The 8-lane registers ``vecs`` (consecutive values) as registers of ``lanes`` lanes."""
    if lanes == LANES:
        return vecs
    i32 = ir.IntType(32)
    if lanes > LANES:
        per = lanes // LANES
        out = []
        for k in range(0, len(vecs), per):
            group = vecs[k : k + per]
            while len(group) > 1:
                width = group[0].type.count
                mask = ir.Constant(ir.VectorType(i32, 2 * width), list(range(2 * width)))
                group = [builder.shuffle_vector(group[i], group[i + 1], mask)
                         for i in range(0, len(group), 2)]
            out.append(group[0])
        return out
    out = []
    for v in vecs:
        for k in range(0, LANES, lanes):
            mask = ir.Constant(ir.VectorType(i32, lanes), list(range(k, k + lanes)))
            out.append(builder.shuffle_vector(v, v, mask))
    return out


@intrinsic
def span_low_blocks(typingctx, src, bsrc, lperm, dst, dj, s, sr):
    """:func:`span_low_gather` for a permutation of :func:`rhtann.layouts.keep.block_permutation`.

    For the span at ``dj`` (a multiple of ``SPAN``), block ``j = dj / 8 +
    b`` (``b < 8``) of the permuted values is ``src[bsrc[j] + lperm[j, a]]``
    for ``a < 8``: one 8-lane load at ``bsrc[j]`` and one lane permute
    (``vpermps`` for float32 on AVX2 hosts, element moves elsewhere), and
    the span is the ``8 x 8`` transpose of these blocks. Then the same signs,
    butterflies and store as :func:`span_low_gather` (``dst`` must not be
    ``src``). ``bsrc`` and ``lperm`` are int32, ``lperm`` of shape ``(B, 8)``
    C-contiguous.
    """
    if not (
        _float_arrays(src, dst, s) and dst.ndim == 2 and s.ndim == 2
        and all(isinstance(a, types.Array) and a.dtype == types.int32 for a in (bsrc, lperm))
    ):
        return None
    sig = types.void(src, bsrc, lperm, dst, dj, s, sr)

    def codegen(context, builder, signature, args):
        tys = signature.args
        sary = context.make_array(tys[0])(context, builder, args[0])
        bary = context.make_array(tys[1])(context, builder, args[1])
        lary = context.make_array(tys[2])(context, builder, args[2])
        dary = context.make_array(tys[3])(context, builder, args[3])
        gary = context.make_array(tys[5])(context, builder, args[5])
        vec = _Vec(context, builder, tys[0].dtype)
        dj_v, sr_v = (context.cast(builder, args[k], tys[k], types.intp) for k in (4, 6))
        i32 = ir.IntType(32)
        v8 = ir.VectorType(vec.elty, LANES)
        iv8 = ir.VectorType(i32, LANES)
        native = HAS_AVX2 and vec.elty == ir.FloatType()
        base = builder.bitcast(sary.data, vec.elty.as_pointer())
        bptr = builder.bitcast(bary.data, i32.as_pointer())
        lptr = builder.bitcast(lary.data, i32.as_pointer())
        j0 = builder.udiv(dj_v, vec.const(LANES))
        rows = []
        for b in range(LANES):
            j = builder.add(j0, vec.const(b))
            start = builder.sext(builder.load(builder.gep(bptr, [j])), vec.intp)
            blk = builder.load(builder.bitcast(builder.gep(base, [start]), v8.as_pointer()), align=4)
            idx = builder.load(builder.bitcast(builder.gep(lptr, [builder.mul(j, vec.const(LANES))]),
                                               iv8.as_pointer()), align=4)
            rows.append(_lane_permute(builder, blk, idx, native))
        vals = _regroup(builder, _transpose8(builder, rows), vec.part)
        _signed_low_store(builder, vec, vals, gary, sr_v, dary, dj_v)
        return context.get_dummy_value()

    return sig, codegen
