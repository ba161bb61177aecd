"""SIMD building blocks of the keep layout's per-row ("span") path.

Both families apply a small dense +-1 core with one fused multiply-add per
output, input and 8-lane vector, the core's entries broadcast from a small
table that stays in L1:

* ``col_core4``, ``col_core8``, ``col_core12`` (:func:`_make_col_core`):
  a core acting on coordinates ``stride`` apart, vectorized along the
  contiguous index below it (8 consecutive positions per call);
* ``row_core1``, ``row_core2``, ``row_core3`` (:func:`_make_row_core`): a
  core acting on the contiguous index, as a small matrix product of 4 rows
  of a row-major buffer with the transposed core (1 to 3 vectors of 8
  outputs per call).

Every intrinsic takes arrays of one float dtype whose elements are
contiguous in memory (the caller guarantees it) and indexes them as flat
runs from their data pointers, with offsets in elements; the caller
guarantees that every access is inside the arrays. The vectors are always 8
lanes wide (one register for float32 on AVX2; LLVM splits them for float64).

numba's on-disk cache is keyed on the source of the module that calls an
intrinsic: after editing this file, delete the ``*.nbi``/``*.nbc`` files under
``rhtann/kernels/__pycache__``.
"""

from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

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


def _make_col_core(block: int):
    """Build ``f(src, dst, base, stride, k, mat, m0, i0)``: ``block`` outputs of a core of order ``k``.

    For ``b < block``: ``dst[base + (i0 + b) * stride + l] = sum_{j < k}
    mat[m0 + (i0 + b) * k + j] * src[base + j * stride + l]`` for the 8
    lanes ``l < 8``. ``mat[m0:]`` holds the core, row-major ``(k, k)``;
    ``dst`` must not overlap the inputs.
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
            acc = f.zeros(block)
            rows = [builder.add(m0_v, builder.mul(builder.add(i0_v, f.const(b)), k_v)) for b in range(block)]
            with cgutils.for_range(builder, k_v) as loop:
                j = loop.index
                x = builder.load(f.at(sary, builder.add(base_v, builder.mul(j, stride_v))), align=4)
                for b in range(block):
                    s = f.splat(builder.load(f.at(mary, builder.add(rows[b], j), vector=False)))
                    builder.store(builder.call(f.fma, [s, x, builder.load(acc[b])]), acc[b])
            for b in range(block):
                pos = builder.add(base_v, builder.mul(builder.add(i0_v, f.const(b)), stride_v))
                builder.store(builder.load(acc[b]), f.at(dary, pos), align=4)
            return context.get_dummy_value()

        return sig, codegen

    typer.__name__ = f"col_core{block}"
    return intrinsic(typer)


col_core4 = _make_col_core(4)
col_core8 = _make_col_core(8)
col_core12 = _make_col_core(12)


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
