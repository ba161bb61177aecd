"""SIMD building blocks that numba cannot express in plain Python loops.

:func:`signed_sum` and ``group_sums1`` .. ``group_sums6`` are the pieces of
the keep layout's dense cores (grouped signed sums, then one multiply-add per
output and group, accumulated in registers).

:func:`transpose16` moves a 16 x 16 block between two row-major arrays with
vector loads, a shuffle network and vector stores, instead of 256 scalar
moves. It works in square sub-blocks one register wide (8 x 8 for float32
on AVX2, the whole block on AVX-512), so the shuffle network never spills.
The tiled Hadamard kernels use it to turn a tile of rows into columns and
back.

numba's on-disk cache is keyed on the source of the module that calls an
intrinsic, not on this file: after editing it, delete the ``*.nbi``/``*.nbc``
files under ``rhtann/__pycache__`` so the kernels are compiled anew.
"""

from __future__ import annotations

import platform

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

#: Side of the transposed blocks.
BLOCK = 16


def _host_vector_bits() -> int:
    """Width in bits of the host's widest float vector registers (512, 256 or 128)."""
    try:
        from llvmlite import binding

        features = binding.get_host_cpu_features()
    except Exception:  # pragma: no cover - no feature query on this platform
        return 128
    if features.get("avx512f", False):
        return 512
    if features.get("avx", False):
        return 256
    return 128


#: Register width the butterflies and group sums are written for: a 16-lane
#: row segment is processed in pieces of one register each, so that a radix-16
#: butterfly keeps its 16 values in registers (on AVX2, 16-lane float32 vectors
#: would need 32 registers and spill). numba's cache is keyed on the host CPU,
#: so code built for one width is never loaded on another.
VECTOR_BITS = _host_vector_bits()


class _Vec:
    """IR helpers shared by the intrinsics: 16-wide vectors of one float dtype."""

    def __init__(self, context, builder, dtype):
        self.builder = builder
        self.elty = context.get_data_type(dtype)
        self.vecty = ir.VectorType(self.elty, BLOCK)
        self.maskty = ir.VectorType(ir.IntType(32), BLOCK)
        self.intp = context.get_value_type(types.intp)
        self.itemsize = ir.Constant(self.intp, context.get_abi_sizeof(self.elty))
        #: Lanes of one register (at most BLOCK) and its vector type.
        self.part = max(1, min(BLOCK, VECTOR_BITS // (8 * context.get_abi_sizeof(self.elty))))
        self.partty = ir.VectorType(self.elty, self.part)

    def splat_as(self, value, vecty):
        """A vector of type ``vecty`` with every lane equal to ``value``."""
        b = self.builder
        undef = ir.Constant(vecty, ir.Undefined)
        one = b.insert_element(undef, value, ir.Constant(ir.IntType(32), 0))
        return b.shuffle_vector(one, undef, ir.Constant(ir.VectorType(ir.IntType(32), vecty.count),
                                                        [0] * vecty.count))

    def const(self, value):
        """An ``intp`` constant."""
        return ir.Constant(self.intp, value)

    def ptr(self, ary, row, col, pointee=None):
        """Pointer to ``ary[row, col]`` (intp values), typed as ``pointee`` (default: a vector)."""
        b = self.builder
        off = b.add(b.mul(row, b.extract_value(ary.strides, 0)), b.mul(col, self.itemsize))
        base = b.bitcast(ary.data, ir.IntType(8).as_pointer())
        return b.bitcast(b.gep(base, [off]), (pointee or self.vecty).as_pointer())

    def splat(self, value):
        """A vector with every lane equal to the scalar ``value``."""
        b = self.builder
        undef = ir.Constant(self.vecty, ir.Undefined)
        one = b.insert_element(undef, value, ir.Constant(ir.IntType(32), 0))
        return b.shuffle_vector(one, undef, ir.Constant(self.maskty, [0] * BLOCK))


@intrinsic
def transpose16(typingctx, src, si, sj, dst, di, dj, scale):
    """``dst[di + c, dj + r] = scale * src[si + r, sj + c]`` for ``r, c < 16``.

    Parameters
    ----------
    src, dst : 2-D arrays of the same float dtype, unit stride along axis 1
        The caller guarantees that both 16 x 16 blocks lie inside the arrays.
    si, sj, di, dj : int
        Top-left corners of the blocks.
    scale : float
        Factor applied while storing.

    Returns
    -------
    float
        The sum of ``v - v`` over the 256 values read: 0 unless one of them
        is NaN or infinite.

    Notes
    -----
    The block is transposed in four stages: at stage ``s`` (8, 4, 2, 1) rows
    ``i`` and ``i + s`` exchange their off-diagonal ``s``-wide halves, which
    swaps the off-diagonal sub-blocks of every ``2s x 2s`` block.
    """
    return _transpose_typer(src, si, sj, dst, di, dj, scale, None, None)


@intrinsic
def transpose16_moments(typingctx, src, si, sj, dst, di, dj, scale, acc, ai):
    """:func:`transpose16` that also accumulates the rows' moment sums.

    For ``r < 16``: ``acc[0, ai + r] += sum_c src[si + r, sj + c] ** 2`` and
    ``acc[1, ai + r] += sum_c src[si + r, sj + c] ** 4``, summed over the
    block's 16 columns ``c``. After the transposition each register holds one
    column for 16 rows, so the sums are vertical vector operations.

    Parameters
    ----------
    acc : 2-D array, shape (2, >= ai + 16), same dtype as ``src``
        Running sums of squares (row 0) and fourth powers (row 1) per source
        row, unit stride along axis 1.
    ai : int
        Position of source row ``si`` in ``acc``.

    Returns
    -------
    float
        Always 0: a NaN or infinity in the block shows in ``acc`` instead.
    """
    return _transpose_typer(src, si, sj, dst, di, dj, scale, acc, ai)


@intrinsic
def transpose16_stream(typingctx, src, si, sj, dst, di, dj, scale):
    """:func:`transpose16` with non-temporal stores (cache-bypassing).

    The caller guarantees that every destination row segment
    ``dst[di + c, dj : dj + 16]`` is 64-byte aligned, and calls
    :func:`store_fence` before the stored values are read by another thread.
    """
    return _transpose_typer(src, si, sj, dst, di, dj, scale, None, None, stream=True)


@intrinsic
def store_fence(typingctx):
    """Make the non-temporal stores issued before it visible to other threads.

    ``sfence`` on x86-64; a sequentially consistent fence elsewhere.
    """
    sig = types.void()

    def codegen(context, builder, signature, args):
        if platform.machine().lower() in ("x86_64", "amd64"):
            fnty = ir.FunctionType(ir.VoidType(), [])
            builder.call(cgutils.get_or_insert_function(builder.module, fnty, "llvm.x86.sse.sfence"), [])
        else:
            builder.fence("seq_cst")
        return context.get_dummy_value()

    return sig, codegen


def _transpose_typer(src, si, sj, dst, di, dj, scale, acc, ai, stream=False):
    with_moments = acc is not None
    arrays = (src, dst, acc) if with_moments else (src, dst)
    if not (
        all(isinstance(a, types.Array) and a.ndim == 2 and a.dtype == src.dtype for a in arrays)
        and isinstance(src.dtype, types.Float)
    ):
        return None
    extra = (acc, ai) if with_moments else ()
    sig = src.dtype(src, si, sj, dst, di, dj, scale, *extra)

    def codegen(context, builder, signature, args):
        src_v, si_v, sj_v, dst_v, di_v, dj_v, scale_v = args[:7]
        srcty, dstty = signature.args[0], signature.args[3]
        sary = context.make_array(srcty)(context, builder, src_v)
        dary = context.make_array(dstty)(context, builder, dst_v)
        vec = _Vec(context, builder, srcty.dtype)

        def index(value, pos):
            return context.cast(builder, value, signature.args[pos], types.intp)

        si_v, sj_v, di_v, dj_v = (index(v, p) for v, p in ((si_v, 1), (sj_v, 2), (di_v, 4), (dj_v, 5)))
        scale_v = context.cast(builder, scale_v, signature.args[6], srcty.dtype)
        # The block is moved as (BLOCK / side)^2 square sub-blocks of one
        # register's width each (side 8 for float32 on AVX2, 16 on AVX-512),
        # so that a sub-block's rows and the shuffle temporaries fit in the
        # register file; the values and their order are the same for every side.
        side = vec.part
        subty = vec.partty
        zero = ir.Constant(subty, None)
        splat = vec.splat_as(scale_v, subty)
        nontemporal = builder.module.add_metadata([ir.Constant(ir.IntType(32), 1)]) if stream else None
        check = zero
        sums = {}
        for bj in range(0, BLOCK, side):
            # all sub-blocks of source columns bj .. bj + side - 1, so that the
            # halves of each destination row are stored back to back (whole
            # cache lines for the non-temporal stores)
            subs = []
            for bi in range(0, BLOCK, side):
                src_i = builder.add(si_v, vec.const(bi))
                src_j = builder.add(sj_v, vec.const(bj))
                rows = [builder.load(vec.ptr(sary, builder.add(src_i, vec.const(r)), src_j, subty), align=4)
                        for r in range(side)]
                if not with_moments:
                    for r in range(side):
                        check = builder.fadd(check, builder.fsub(rows[r], rows[r]))
                step = side // 2
                while step:
                    lo = ir.Constant(ir.VectorType(ir.IntType(32), side),
                                     [j if not j & step else side + j - step for j in range(side)])
                    hi = ir.Constant(ir.VectorType(ir.IntType(32), side),
                                     [j + step if not j & step else side + j for j in range(side)])
                    new = list(rows)
                    for i in range(side):
                        if not i & step:
                            new[i] = builder.shuffle_vector(rows[i], rows[i + step], lo)
                            new[i + step] = builder.shuffle_vector(rows[i], rows[i + step], hi)
                    rows = new
                    step //= 2
                subs.append((bi, rows))
                if with_moments:
                    # register c holds source column bj + c of rows bi .. bi + side - 1
                    for v in rows:
                        q = builder.fmul(v, v)
                        q4 = builder.fmul(q, q)
                        if bi in sums:
                            sums[bi] = (builder.fadd(sums[bi][0], q), builder.fadd(sums[bi][1], q4))
                        else:
                            sums[bi] = (q, q4)
            for c in range(side):
                dst_i = builder.add(di_v, vec.const(bj + c))
                for bi, rows in subs:
                    value = builder.fmul(rows[c], splat)
                    ptr = vec.ptr(dary, dst_i, builder.add(dj_v, vec.const(bi)), subty)
                    if stream:
                        inst = builder.store(value, ptr, align=min(64, side * vec.itemsize.constant))
                        inst.set_metadata("nontemporal", nontemporal)
                    else:
                        builder.store(value, ptr, align=4)
        if with_moments:
            aary = context.make_array(signature.args[7])(context, builder, args[7])
            ai_v = index(args[8], 8)
            for bi, pair in sums.items():
                col = builder.add(ai_v, vec.const(bi))
                for k, part in enumerate(pair):
                    ptr = vec.ptr(aary, vec.const(k), col, subty)
                    builder.store(builder.fadd(builder.load(ptr, align=4), part), ptr, align=4)
            return ir.Constant(vec.elty, 0.0)
        total = builder.extract_element(check, ir.Constant(ir.IntType(32), 0))
        for c in range(1, side):
            total = builder.fadd(total, builder.extract_element(check, ir.Constant(ir.IntType(32), c)))
        return total

    return sig, codegen


def _make_butterfly(radix: int, signed: bool):
    """Build an intrinsic for one radix-``radix`` butterfly on 16 columns.

    The generated function ``f(buf, j, h, t[, s])`` reads the 16-wide row
    segments ``buf[j + q*h, t:t+16]`` for ``q < radix`` (multiplied by the
    signs ``s[j + q*h]`` when ``signed``), applies the ``log2(radix)``
    Walsh-Hadamard butterfly stages of strides ``h, 2h, ...`` to them in
    registers, and writes them back. The 16 columns are processed in pieces
    of one register (``VECTOR_BITS``), one piece after the other, so that the
    ``radix`` values of a piece fit in the register file.
    """

    def build(buf, j, h, t, *rest):
        if not (isinstance(buf, types.Array) and buf.ndim == 2 and isinstance(buf.dtype, types.Float)):
            return None
        sig = types.void(buf, j, h, t, *rest)

        def codegen(context, builder, signature, args):
            bufty = signature.args[0]
            ary = context.make_array(bufty)(context, builder, args[0])
            vec = _Vec(context, builder, bufty.dtype)
            j_v, h_v, t_v = (
                context.cast(builder, args[k], signature.args[k], types.intp) for k in (1, 2, 3)
            )
            if signed:
                sty = signature.args[4]
                sary = context.make_array(sty)(context, builder, args[4])
                selty = context.get_data_type(sty.dtype)
            svals = []
            for q in range(radix):
                row = builder.add(j_v, builder.mul(h_v, vec.const(q)))
                if signed:
                    sptr = builder.bitcast(
                        builder.gep(builder.bitcast(sary.data, ir.IntType(8).as_pointer()),
                                    [builder.mul(row, builder.extract_value(sary.strides, 0))]),
                        selty.as_pointer(),
                    )
                    sval = context.cast(builder, builder.load(sptr), sty.dtype, bufty.dtype)
                    svals.append(vec.splat_as(sval, vec.partty))
            for part in range(0, BLOCK, vec.part):
                t_p = builder.add(t_v, vec.const(part))
                ptrs, vals = [], []
                for q in range(radix):
                    row = builder.add(j_v, builder.mul(h_v, vec.const(q)))
                    ptr = vec.ptr(ary, row, t_p, vec.partty)
                    val = builder.load(ptr, align=4)
                    if signed:
                        val = builder.fmul(val, svals[q])
                    ptrs.append(ptr)
                    vals.append(val)
                vals = _vertical(builder, vals)
                for ptr, val in zip(ptrs, vals, strict=True):
                    builder.store(val, ptr, align=4)
            return context.get_dummy_value()

        return sig, codegen

    if signed:

        def typer(typingctx, buf, j, h, t, s):
            return build(buf, j, h, t, s)

    else:

        def typer(typingctx, buf, j, h, t):
            return build(buf, j, h, t)

    typer.__name__ = f"butterfly{radix}{'_signed' if signed else ''}"
    return intrinsic(typer)


butterfly2 = _make_butterfly(2, False)
butterfly4 = _make_butterfly(4, False)
butterfly8 = _make_butterfly(8, False)
butterfly16 = _make_butterfly(16, False)
butterfly2_signed = _make_butterfly(2, True)
butterfly4_signed = _make_butterfly(4, True)
butterfly8_signed = _make_butterfly(8, True)
butterfly16_signed = _make_butterfly(16, True)


#: Lanes (tile rows) summed together by :func:`signed_sum`.
SUM_LANES = 32


@intrinsic
def signed_sum(typingctx, dst, drow, src, idx, sgn, g0, g1, t):
    """``dst[drow, t:t+32] = sum_g sgn[g] * src[idx[g], t:t+32]`` for ``g0 <= g < g1``.

    The 32-lane accumulator stays in registers through the loop over ``g``
    (one vector load and one multiply-add per term and 16 lanes).

    Parameters
    ----------
    dst, src : 2-D arrays of one float dtype, unit stride along axis 1
        The caller guarantees that every row segment touched lies inside
        the arrays and that ``g1 > g0``.
    drow, g0, g1, t : int
    idx : 1-D int64 array
        Rows of ``src``.
    sgn : 1-D array, dtype of ``src``
        Coefficient of each term.
    """
    if not (
        isinstance(dst, types.Array) and isinstance(src, types.Array) and dst.ndim == 2
        and src.ndim == 2 and dst.dtype == src.dtype and isinstance(src.dtype, types.Float)
        and isinstance(idx, types.Array) and idx.ndim == 1 and isinstance(idx.dtype, types.Integer)
        and isinstance(sgn, types.Array) and sgn.ndim == 1 and sgn.dtype == src.dtype
        and idx.layout == "C" and sgn.layout == "C"
    ):
        return None
    sig = types.void(dst, drow, src, idx, sgn, g0, g1, t)

    def codegen(context, builder, signature, args):
        dst_v, drow_v, src_v, idx_v, sgn_v, g0_v, g1_v, t_v = args
        dty, _, sty, ity, gty = signature.args[:5]
        dary = context.make_array(dty)(context, builder, dst_v)
        sary = context.make_array(sty)(context, builder, src_v)
        iary = context.make_array(ity)(context, builder, idx_v)
        gary = context.make_array(gty)(context, builder, sgn_v)
        vec = _Vec(context, builder, sty.dtype)
        wide = ir.VectorType(vec.elty, SUM_LANES)

        def as_intp(k):
            return context.cast(builder, args[k], signature.args[k], types.intp)

        drow_v, g0_v, g1_v, t_v = as_intp(1), as_intp(5), as_intp(6), as_intp(7)
        suffix = "f32" if vec.elty == ir.FloatType() else "f64"
        fma = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(wide, [wide] * 3), f"llvm.fmuladd.v{SUM_LANES}{suffix}"
        )
        acc = cgutils.alloca_once(builder, wide)
        builder.store(ir.Constant(wide, None), acc)
        iel = context.get_data_type(ity.dtype)
        gel = vec.elty
        with cgutils.for_range(builder, builder.sub(g1_v, g0_v)) as loop:
            g = builder.add(g0_v, loop.index)
            ip = builder.gep(builder.bitcast(iary.data, iel.as_pointer()), [g])
            row = context.cast(builder, builder.load(ip), ity.dtype, types.intp)
            sp = builder.gep(builder.bitcast(gary.data, gel.as_pointer()), [g])
            s = builder.load(sp)
            undef = ir.Constant(wide, ir.Undefined)
            one = builder.insert_element(undef, s, ir.Constant(ir.IntType(32), 0))
            splat = builder.shuffle_vector(one, undef, ir.Constant(ir.VectorType(ir.IntType(32), SUM_LANES),
                                                                   [0] * SUM_LANES))
            val = builder.load(vec.ptr(sary, row, t_v, wide), align=4)
            builder.store(builder.call(fma, [splat, val, builder.load(acc)]), acc)
        builder.store(builder.load(acc), vec.ptr(dary, drow_v, t_v, wide), align=4)
        return context.get_dummy_value()

    return sig, codegen


def _make_group_sums(size: int):
    """Build the intrinsic that forms the ``2^(size-1)`` signed sums of ``size`` rows (16 lanes).

    ``f(comb, c0, src, gather, mult, moff, scale, base, j0, stride, t)`` reads
    the inputs ``v_b = scale * mult[moff + r_b] * src[gather[r_b], t:t+16]``
    at ``r_b = base + (j0 + b) * stride`` for ``b < size``, and writes
    ``v_0 + sum_{b >= 1} (-1)^{bit_{b-1}(q)} v_b`` to ``comb[c0 + q, t:t+16]``
    for ``q < 2^(size-1)``, all in registers.
    """

    def typer(typingctx, comb, c0, src, gather, mult, moff, scale, base, j0, stride, t):
        if not (
            isinstance(comb, types.Array) and isinstance(src, types.Array) and comb.ndim == 2
            and src.ndim == 2 and comb.dtype == src.dtype and isinstance(src.dtype, types.Float)
            and isinstance(gather, types.Array) and gather.ndim == 1 and gather.layout == "C"
            and isinstance(gather.dtype, types.Integer)
            and isinstance(mult, types.Array) and mult.ndim == 1 and mult.layout == "C"
            and mult.dtype == src.dtype
        ):
            return None
        sig = types.void(comb, c0, src, gather, mult, moff, scale, base, j0, stride, t)

        def codegen(context, builder, signature, args):
            cty, _, sty, gty, mty = signature.args[:5]
            cary = context.make_array(cty)(context, builder, args[0])
            sary = context.make_array(sty)(context, builder, args[2])
            gary = context.make_array(gty)(context, builder, args[3])
            mary = context.make_array(mty)(context, builder, args[4])
            vec = _Vec(context, builder, sty.dtype)

            def as_intp(k):
                return context.cast(builder, args[k], signature.args[k], types.intp)

            c0_v, moff_v, base_v, j0_v, stride_v, t_v = (as_intp(k) for k in (1, 5, 7, 8, 9, 10))
            scale_v = context.cast(builder, args[6], signature.args[6], sty.dtype)
            gel = context.get_data_type(gty.dtype)
            rows, mults = [], []
            for b in range(size):
                r = builder.add(base_v, builder.mul(builder.add(j0_v, vec.const(b)), stride_v))
                grow = builder.load(builder.gep(builder.bitcast(gary.data, gel.as_pointer()), [r]))
                rows.append(context.cast(builder, grow, gty.dtype, types.intp))
                m = builder.load(builder.gep(builder.bitcast(mary.data, vec.elty.as_pointer()),
                                             [builder.add(moff_v, r)]))
                mults.append(vec.splat_as(builder.fmul(m, scale_v), vec.partty))
            for part in range(0, BLOCK, vec.part):
                t_p = builder.add(t_v, vec.const(part))
                vals = [
                    builder.fmul(builder.load(vec.ptr(sary, row, t_p, vec.partty), align=4), mv)
                    for row, mv in zip(rows, mults, strict=True)
                ]
                sums = [vals[0]]
                for b in range(1, size):
                    sums = [builder.fadd(a, vals[b]) for a in sums] + [builder.fsub(a, vals[b]) for a in sums]
                for q, v in enumerate(sums):
                    builder.store(v, vec.ptr(cary, builder.add(c0_v, vec.const(q)), t_p, vec.partty), align=4)
            return context.get_dummy_value()

        return sig, codegen

    typer.__name__ = f"group_sums{size}"
    return intrinsic(typer)


#: ``group_sums[s]`` forms the signed sums of a group of ``s`` rows (``1 <= s <= 6``).
group_sums = tuple(_make_group_sums(s) if s else None for s in range(7))
group_sums1, group_sums2, group_sums3, group_sums4, group_sums5, group_sums6 = group_sums[1:]


#: Coordinates of one row transformed in registers by :func:`span_low_signed`:
#: the Walsh-Hadamard stages of strides ``1 .. SPAN / 2``.
SPAN = 64


def _vertical(builder, vals):
    """Butterfly stages between the registers ``vals`` (strides 1, 2, .. registers)."""
    step = 1
    while step < len(vals):
        new = list(vals)
        for q in range(len(vals)):
            if not q & step:
                new[q] = builder.fadd(vals[q], vals[q + step])
                new[q + step] = builder.fsub(vals[q], vals[q + step])
        vals = new
        step *= 2
    return vals


def _check_sum(builder, vec, values):
    """The sum of ``v - v`` over the lanes of the registers ``values``: 0 unless one is NaN or infinite.

    Summed as a tree (registers, then halves of a register), which keeps the
    check off the critical path of the stores beside it.
    """
    level = [builder.fsub(v, v) for v in values]
    while len(level) > 1:
        level = [builder.fadd(level[i], level[i + 1]) if i + 1 < len(level) else level[i]
                 for i in range(0, len(level), 2)]
    acc = level[0]
    i32 = ir.IntType(32)
    width = vec.part
    while width > 1:
        width //= 2
        mask = ir.Constant(ir.VectorType(i32, vec.part), [(i + width) % vec.part for i in range(vec.part)])
        acc = builder.fadd(acc, builder.shuffle_vector(acc, acc, mask))
    return builder.extract_element(acc, ir.Constant(i32, 0))


@intrinsic
def span_low_signed(typingctx, src, si, sj, dst, di, dj, s, sr):
    """The signs and the first ``log2(SPAN)`` Walsh-Hadamard stages of ``SPAN`` row values.

    Loads ``v = src[si, sj:sj+SPAN]``, multiplies it by the signs
    ``s[sr, dj:dj+SPAN]``, applies the butterflies of strides 1, 2, ..,
    ``SPAN/2`` (in this order) and stores the result to
    ``dst[di, dj:dj+SPAN]`` (``dst`` may be ``src``, at the same place).

    The values are a few registers. Strides smaller than a register are done
    inside each register: lane ``i`` of ``fma(v, c, w)``, with ``w`` the
    register's lanes exchanged at that stride and ``c[i] = -1`` where bit
    ``stride`` of ``i`` is set (``+1`` elsewhere), is the butterfly's sum or
    difference, rounded once as ``a + b`` and ``a - b`` are. Larger strides
    are adds and subtracts between registers.
    """
    if not (
        all(isinstance(a, types.Array) and a.ndim == 2 for a in (src, dst, s))
        and isinstance(src.dtype, types.Float) and dst.dtype == src.dtype and s.dtype == src.dtype
    ):
        return None
    sig = types.void(src, si, sj, dst, di, dj, s, sr)

    def codegen(context, builder, signature, args):
        tys = signature.args
        sary = context.make_array(tys[0])(context, builder, args[0])
        dary = context.make_array(tys[3])(context, builder, args[3])
        gary = context.make_array(tys[6])(context, builder, args[6])
        vec = _Vec(context, builder, tys[0].dtype)
        si_v, sj_v, di_v, dj_v, sr_v = (
            context.cast(builder, args[k], tys[k], types.intp) for k in (1, 2, 4, 5, 7)
        )
        lanes = vec.part
        vals = []
        for q in range(SPAN // lanes):
            off = vec.const(q * lanes)
            v = builder.load(vec.ptr(sary, si_v, builder.add(sj_v, off), vec.partty), align=4)
            g = builder.load(vec.ptr(gary, sr_v, builder.add(dj_v, off), vec.partty), align=4)
            vals.append(builder.fmul(v, g))
        for q, v in enumerate(low_butterflies(builder, vec, vals)):
            ptr = vec.ptr(dary, di_v, builder.add(dj_v, vec.const(q * lanes)), vec.partty)
            builder.store(v, ptr, align=4)
        return context.get_dummy_value()

    return sig, codegen


def low_butterflies(builder, vec, vals):
    """The butterflies of strides 1 .. SPAN/2, in order, on the registers ``vals`` of one span.

    ``vals`` holds the span's values in order, ``vec.part`` lanes per
    register; returns the registers of the result. Strides below a register
    are done inside it (see :func:`span_low_signed`), larger ones between
    registers (:func:`_vertical`).
    """
    lanes = vec.part
    i32 = ir.IntType(32)
    suffix = "f32" if vec.elty == ir.FloatType() else "f64"
    fma = cgutils.get_or_insert_function(
        builder.module, ir.FunctionType(vec.partty, [vec.partty] * 3), f"llvm.fma.v{lanes}{suffix}"
    )
    step = 1
    while step < lanes:
        perm = ir.Constant(ir.VectorType(i32, lanes), [i ^ step for i in range(lanes)])
        sgn = ir.Constant(vec.partty, [-1.0 if i & step else 1.0 for i in range(lanes)])
        vals = [builder.call(fma, [v, sgn, builder.shuffle_vector(v, v, perm)]) for v in vals]
        step *= 2
    return _vertical(builder, vals)


def _make_span_high(radix: int):
    """Build ``f(buf, row, j, h)``: ``log2(radix)`` butterfly stages between segments of one row.

    ``f`` reads the 16-value segments ``buf[row, j + q*h : j + q*h + 16]``
    for ``q < radix``, applies the butterfly stages of strides ``h, 2h, ..``
    to them and writes them back. When the segments fit in the register file
    together they are processed together; otherwise one register-wide piece
    of all segments at a time.
    """

    def typer(typingctx, buf, row, j, h):
        if not (isinstance(buf, types.Array) and buf.ndim == 2 and isinstance(buf.dtype, types.Float)):
            return None
        sig = types.void(buf, row, j, h)

        def codegen(context, builder, signature, args):
            tys = signature.args
            ary = context.make_array(tys[0])(context, builder, args[0])
            vec = _Vec(context, builder, tys[0].dtype)
            row_v, j_v, h_v = (context.cast(builder, args[k], tys[k], types.intp) for k in (1, 2, 3))
            nparts = BLOCK // vec.part
            group = nparts if radix * nparts <= 16 else 1
            cols = [builder.add(j_v, builder.mul(h_v, vec.const(q))) for q in range(radix)]
            for first in range(0, nparts, group):
                results = []
                for part in range(first, first + group):
                    ptrs = [vec.ptr(ary, row_v, builder.add(c, vec.const(part * vec.part)), vec.partty)
                            for c in cols]
                    results.append((ptrs, _vertical(builder, [builder.load(p, align=4) for p in ptrs])))
                for q in range(radix):
                    for ptrs, vals in results:
                        builder.store(vals[q], ptrs[q], align=4)
            return context.get_dummy_value()

        return sig, codegen

    typer.__name__ = f"span_high{radix}"
    return intrinsic(typer)


span_high2 = _make_span_high(2)
span_high4 = _make_span_high(4)
span_high8 = _make_span_high(8)
span_high16 = _make_span_high(16)


def _make_scaled_copy(stream: bool):
    """Build ``f(src, si, sj, dst, di, dj, scale)``: ``dst[di, dj:dj+SPAN] = scale * src[si, sj:sj+SPAN]``.

    Returns the sum of ``v - v`` over the values stored (0 unless one is NaN
    or infinite). With ``stream`` the stores are non-temporal: the caller
    guarantees that ``dst[di, dj]`` is 64-byte aligned and calls
    :func:`store_fence` before the values are read by another thread.
    """

    def typer(typingctx, src, si, sj, dst, di, dj, scale):
        if not (
            isinstance(src, types.Array) and isinstance(dst, types.Array) and src.ndim == 2
            and dst.ndim == 2 and isinstance(src.dtype, types.Float) and dst.dtype == src.dtype
        ):
            return None
        sig = src.dtype(src, si, sj, dst, di, dj, scale)

        def codegen(context, builder, signature, args):
            tys = signature.args
            sary = context.make_array(tys[0])(context, builder, args[0])
            dary = context.make_array(tys[3])(context, builder, args[3])
            vec = _Vec(context, builder, tys[0].dtype)
            si_v, sj_v, di_v, dj_v = (
                context.cast(builder, args[k], tys[k], types.intp) for k in (1, 2, 4, 5)
            )
            splat = vec.splat_as(context.cast(builder, args[6], tys[6], tys[0].dtype), vec.partty)
            meta = builder.module.add_metadata([ir.Constant(ir.IntType(32), 1)])
            stored = []
            for q in range(SPAN // vec.part):
                off = vec.const(q * vec.part)
                v = builder.load(vec.ptr(sary, si_v, builder.add(sj_v, off), vec.partty), align=4)
                v = builder.fmul(v, splat)
                stored.append(v)
                ptr = vec.ptr(dary, di_v, builder.add(dj_v, off), vec.partty)
                if stream:
                    inst = builder.store(v, ptr, align=min(64, vec.part * vec.itemsize.constant))
                    inst.set_metadata("nontemporal", meta)
                else:
                    builder.store(v, ptr, align=4)
            return _check_sum(builder, vec, stored)

        return sig, codegen

    typer.__name__ = f"scaled_copy{'_stream' if stream else ''}"
    return intrinsic(typer)


scaled_copy = _make_scaled_copy(False)
scaled_copy_stream = _make_scaled_copy(True)
