"""SIMD intrinsic of the 4-bit fast scan: byte shuffles on 32 codes at a time.

:func:`fastscan_block` scores one block of 32 vectors against one query's
uint8 lookup tables. The block is stored pair-interleaved: for each pair
``p`` of nibbles, 32 consecutive bytes hold byte ``p`` of the 32 vectors'
codes (nibble ``2p`` in the low half, ``2p + 1`` in the high half). The
query's tables hold, per pair, 32 bytes for the low nibble and 32 for the
high one (each 16-entry table written twice, once per 128-bit lane).

Per pair the kernel splits the 32 code bytes into their two nibbles, looks
both up with a byte shuffle (``vpshufb`` on x86-64), and adds the looked-up
bytes into 16-bit sums: the bytes are added as 16-bit words into one
accumulator and, shifted right by 8, into a second one; at the end the
first minus the second shifted back left gives the sums of the even lanes,
the second those of the odd lanes. All arithmetic wraps modulo 2**16, which
is exact while every true sum stays below 65536 (at most 128 pairs of
255-valued tables).

numba's on-disk cache is keyed on the calling module's source, not this
file: after editing it, delete the cache files under ``rhtann/kernels/__pycache__``.
"""

from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

#: Vectors per block of the interleaved layout.
LANES = 32

_I8, _I16, _I32 = ir.IntType(8), ir.IntType(16), ir.IntType(32)
_V32I8 = ir.VectorType(_I8, 32)
_V16I8 = ir.VectorType(_I8, 16)
_V16I16 = ir.VectorType(_I16, 16)
_V32I16 = ir.VectorType(_I16, 32)
_V32F = ir.VectorType(ir.FloatType(), 32)


def _ptr(builder, context, ary, offset, pointee):
    """Pointer to element ``offset`` of a 1-D array, typed as ``pointee``."""
    base = builder.bitcast(ary.data, ir.IntType(8).as_pointer())
    return builder.bitcast(builder.gep(base, [offset]), pointee.as_pointer())


def _shuffle_bytes(builder, table, idx):
    """Per 128-bit lane byte lookup ``table[idx]`` (``idx`` < 16)."""
    fnty = ir.FunctionType(_V32I8, [_V32I8, _V32I8])
    fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.x86.avx2.pshuf.b")
    return builder.call(fn, [table, idx])


@intrinsic
def fastscan_block(typingctx, codes, cbase, npairs, luts, lbase, sv, ev, vbase, a, b, thr, out):
    """Score 32 vectors: ``out[j] = sv[vbase + j] * (a * S_j + b) - ev[vbase + j]``.

    Parameters
    ----------
    codes : 1-D uint8 array
        Interleaved codes; the block is ``codes[cbase : cbase + 32 * npairs]``.
    cbase, npairs : int
    luts : 1-D uint8 array
        Lookup tables of one query; pair ``p`` at ``luts[lbase + 64 p :]``
        (32 bytes for the low nibble, then 32 for the high one).
    lbase : int
    sv : 1-D float32 array, or uint16 array of float16 bit patterns
        Per-vector scale, read at ``vbase .. vbase + 31``.
    ev : 1-D float32 array
        Per-vector offset, read at the same positions.
    vbase : int
    a, b : float32
        Affine map from the 16-bit table sums ``S_j`` to unscaled scores.
    thr : float32
        Threshold.
    out : 1-D float32 array of at least 32 entries
        Receives the 32 scores.

    Returns
    -------
    uint32
        Bit ``j`` set when ``out[j] > thr``.

    Notes
    -----
    The caller guarantees that every range read or written lies inside its
    array; nothing is bounds-checked.
    """
    ok = (
        isinstance(codes, types.Array)
        and codes.dtype == types.uint8
        and isinstance(luts, types.Array)
        and luts.dtype == types.uint8
        and all(isinstance(x, types.Array) and x.dtype == types.float32 for x in (ev, out))
        and isinstance(sv, types.Array)
        and sv.dtype in (types.float32, types.uint16)
    )
    if not ok:
        return None
    sig = types.uint32(codes, cbase, npairs, luts, lbase, sv, ev, vbase, a, b, thr, out)

    def codegen(context, builder, signature, args):
        argtys = signature.args
        intp = context.get_value_type(types.intp)

        def as_intp(k):
            return context.cast(builder, args[k], argtys[k], types.intp)

        def as_f32(k):
            return context.cast(builder, args[k], argtys[k], types.float32)

        carr = context.make_array(argtys[0])(context, builder, args[0])
        larr = context.make_array(argtys[3])(context, builder, args[3])
        sarr = context.make_array(argtys[5])(context, builder, args[5])
        earr = context.make_array(argtys[6])(context, builder, args[6])
        oarr = context.make_array(argtys[11])(context, builder, args[11])
        cbase_v, npairs_v, lbase_v, vbase_v = as_intp(1), as_intp(2), as_intp(4), as_intp(7)
        a_v, b_v, thr_v = as_f32(8), as_f32(9), as_f32(10)

        acc_e = cgutils.alloca_once_value(builder, ir.Constant(_V16I16, None))
        acc_o = cgutils.alloca_once_value(builder, ir.Constant(_V16I16, None))
        low = ir.Constant(_V32I8, [15] * 32)
        four = ir.Constant(_V16I16, [4] * 16)
        eight = ir.Constant(_V16I16, [8] * 16)
        with cgutils.for_range(builder, npairs_v) as loop:
            p = loop.index
            coff = builder.add(cbase_v, builder.mul(p, ir.Constant(intp, 32)))
            loff = builder.add(lbase_v, builder.mul(p, ir.Constant(intp, 64)))
            c = builder.load(_ptr(builder, context, carr, coff, _V32I8), align=1)
            lo = builder.and_(c, low)
            hi16 = builder.lshr(builder.bitcast(c, _V16I16), four)
            hi = builder.and_(builder.bitcast(hi16, _V32I8), low)
            t_lo = builder.load(_ptr(builder, context, larr, loff, _V32I8), align=1)
            loff2 = builder.add(loff, ir.Constant(intp, 32))
            t_hi = builder.load(_ptr(builder, context, larr, loff2, _V32I8), align=1)
            r_lo = builder.bitcast(_shuffle_bytes(builder, t_lo, lo), _V16I16)
            r_hi = builder.bitcast(_shuffle_bytes(builder, t_hi, hi), _V16I16)
            e = builder.load(acc_e)
            o = builder.load(acc_o)
            e = builder.add(e, builder.add(r_lo, r_hi))
            o = builder.add(o, builder.add(builder.lshr(r_lo, eight), builder.lshr(r_hi, eight)))
            builder.store(e, acc_e)
            builder.store(o, acc_o)
        e = builder.load(acc_e)
        o = builder.load(acc_o)
        even = builder.sub(e, builder.shl(o, eight))
        inter = builder.shuffle_vector(
            even, o, ir.Constant(ir.VectorType(_I32, 32), [k // 2 + 16 * (k % 2) for k in range(32)])
        )
        sums = builder.uitofp(inter, _V32F)

        def splat(x):
            undef = ir.Constant(_V32F, ir.Undefined)
            one = builder.insert_element(undef, x, ir.Constant(_I32, 0))
            return builder.shuffle_vector(one, undef, ir.Constant(ir.VectorType(_I32, 32), [0] * 32))

        if argtys[5].dtype == types.uint16:  # float16 bit patterns
            raw = builder.load(
                _ptr(builder, context, sarr, builder.mul(vbase_v, ir.Constant(intp, 2)), _V32I16), align=2
            )
            s = builder.fpext(builder.bitcast(raw, ir.VectorType(ir.HalfType(), 32)), _V32F)
        else:
            s = builder.load(
                _ptr(builder, context, sarr, builder.mul(vbase_v, ir.Constant(intp, 4)), _V32F), align=4
            )
        ofs = builder.load(
            _ptr(builder, context, earr, builder.mul(vbase_v, ir.Constant(intp, 4)), _V32F), align=4
        )
        score = builder.fsub(builder.fmul(s, builder.fadd(builder.fmul(sums, splat(a_v)), splat(b_v))), ofs)
        builder.store(score, _ptr(builder, context, oarr, ir.Constant(intp, 0), _V32F), align=4)
        mask = builder.fcmp_ordered(">", score, splat(thr_v))
        return builder.bitcast(mask, _I32)

    return sig, codegen


#: Queries scored together by :func:`fastscan_block4` (one load of the codes serves all of them).
QB = 4


@intrinsic
def fastscan_block4(
    typingctx, codes_p, npairs, luts_p, lstride, sv_p, half, ev_p, ab_p, thr_p, out_p, masks_p
):
    """:func:`fastscan_block` for ``QB`` = 4 queries at once, with 7-bit tables, on raw addresses.

    Every pointer argument is an integer byte address (``arr.ctypes.data``
    plus an offset), so that the call costs no reference counting inside
    the scan loop. The tables of query ``t`` start at ``luts_p + t *
    lstride``. Every table entry must be at most 127: the two looked-up
    bytes of a pair are added as bytes before widening to 16 bits.

    Parameters
    ----------
    codes_p : int
        Address of the block (``32 * npairs`` bytes).
    npairs : int
    luts_p, lstride : int
        Address of query 0's tables and the distance between queries' tables.
    sv_p : int
        Address of the block's 32 scales: float32, or float16 when ``half``.
    half : int
        Nonzero when the scales are float16.
    ev_p : int
        Address of the block's 32 float32 offsets.
    ab_p : int
        Address of 8 float32: ``(a_t, b_t)`` of query ``t`` at ``2t, 2t + 1``.
    thr_p : int
        Address of 4 float32 thresholds.
    out_p : int
        Address of 128 float32 receiving query ``t``'s scores at ``32 t``.
    masks_p : int
        Address of 4 uint32 receiving, per query, bit ``j`` set when score
        ``j`` exceeds the threshold.

    Returns
    -------
    uint32
        The OR of the four masks.
    """
    args_in = (codes_p, npairs, luts_p, lstride, sv_p, half, ev_p, ab_p, thr_p, out_p, masks_p)
    if not all(isinstance(a, types.Integer) for a in args_in):
        return None
    sig = types.uint32(*args_in)

    def codegen(context, builder, signature, args):
        intp = context.get_value_type(types.intp)
        vals = [context.cast(builder, v, t, types.intp) for v, t in zip(args, signature.args, strict=True)]
        codes_v, npairs_v, luts_v, lstride_v, sv_v, half_v, ev_v, ab_v, thr_v, out_v, masks_v = vals

        def c(v):
            return ir.Constant(intp, v)

        def at(addr, off, pointee):
            return builder.inttoptr(builder.add(addr, off) if off is not None else addr, pointee.as_pointer())

        zero = ir.Constant(_V16I16, None)
        accs = [cgutils.alloca_once_value(builder, zero) for _ in range(2 * QB)]
        low = ir.Constant(_V32I8, [15] * 32)
        four = ir.Constant(_V16I16, [4] * 16)
        eight = ir.Constant(_V16I16, [8] * 16)
        qoff = [builder.add(luts_v, builder.mul(lstride_v, c(t))) for t in range(QB)]
        with cgutils.for_range(builder, npairs_v) as loop:
            p = loop.index
            cv = builder.load(at(codes_v, builder.mul(p, c(32)), _V32I8), align=1)
            lo = builder.and_(cv, low)
            hi = builder.and_(builder.bitcast(builder.lshr(builder.bitcast(cv, _V16I16), four), _V32I8), low)
            p64 = builder.mul(p, c(64))
            for t in range(QB):
                t_lo = builder.load(at(qoff[t], p64, _V32I8), align=1)
                t_hi = builder.load(at(qoff[t], builder.add(p64, c(32)), _V32I8), align=1)
                r = builder.add(_shuffle_bytes(builder, t_lo, lo), _shuffle_bytes(builder, t_hi, hi))
                w = builder.bitcast(r, _V16I16)
                builder.store(builder.add(builder.load(accs[2 * t]), w), accs[2 * t])
                builder.store(
                    builder.add(builder.load(accs[2 * t + 1]), builder.lshr(w, eight)), accs[2 * t + 1]
                )

        def splat(x):
            undef = ir.Constant(_V32F, ir.Undefined)
            one = builder.insert_element(undef, x, ir.Constant(_I32, 0))
            return builder.shuffle_vector(one, undef, ir.Constant(ir.VectorType(_I32, 32), [0] * 32))

        is_half = builder.icmp_signed("!=", half_v, c(0))
        with builder.if_else(is_half) as (then, otherwise):
            with then:
                raw = builder.load(at(sv_v, None, _V32I16), align=2)
                s_half = builder.fpext(builder.bitcast(raw, ir.VectorType(ir.HalfType(), 32)), _V32F)
                bb_half = builder.block
            with otherwise:
                s_full = builder.load(at(sv_v, None, _V32F), align=4)
                bb_full = builder.block
        s = builder.phi(_V32F)
        s.add_incoming(s_half, bb_half)
        s.add_incoming(s_full, bb_full)
        ofs = builder.load(at(ev_v, None, _V32F), align=4)
        f32 = ir.FloatType()
        # block bounds for the integer pre-filter: a lane can only pass if
        # s * (a S + b) > thr + e_min, which for thr + e_min > 0 needs S > (thr'/s_max - b) / a
        smax = builder.call(
            cgutils.get_or_insert_function(
                builder.module, ir.FunctionType(f32, [_V32F]), "llvm.vector.reduce.fmax.v32f32"
            ),
            [s],
        )
        emin = builder.call(
            cgutils.get_or_insert_function(
                builder.module, ir.FunctionType(f32, [_V32F]), "llvm.vector.reduce.fmin.v32f32"
            ),
            [ofs],
        )
        fzero = ir.Constant(f32, 0.0)
        smax_pos = builder.fcmp_ordered(">", smax, fzero)
        total_p = cgutils.alloca_once_value(builder, ir.Constant(_I32, 0))
        order = ir.Constant(ir.VectorType(_I32, 32), [k // 2 + 16 * (k % 2) for k in range(32)])
        undef16 = ir.Constant(_V16I16, ir.Undefined)
        for t in range(QB):
            e = builder.load(accs[2 * t])
            o = builder.load(accs[2 * t + 1])
            even = builder.sub(e, builder.shl(o, eight))
            a_t = builder.load(at(ab_v, c(8 * t), f32))
            b_t = builder.load(at(ab_v, c(8 * t + 4), f32))
            thr_t = builder.load(at(thr_v, c(4 * t), f32))
            thr2 = builder.fadd(thr_t, emin)
            usable = builder.and_(builder.fcmp_ordered(">", thr2, fzero), smax_pos)
            tf = builder.fdiv(builder.fsub(builder.fdiv(thr2, smax), b_t), a_t)
            tf = builder.call(
                cgutils.get_or_insert_function(
                    builder.module, ir.FunctionType(f32, [f32, f32]), "llvm.minnum.f32"
                ),
                [tf, ir.Constant(f32, 30000.0)],
            )
            tf = builder.select(usable, tf, ir.Constant(f32, -2.0))
            ti = builder.sub(builder.fptosi(tf, _I16), ir.Constant(_I16, 1))
            tv = builder.shuffle_vector(
                builder.insert_element(undef16, ti, ir.Constant(_I32, 0)),
                undef16,
                ir.Constant(ir.VectorType(_I32, 16), [0] * 16),
            )
            hit = builder.or_(builder.icmp_signed(">", even, tv), builder.icmp_signed(">", o, tv))
            anyhit = builder.icmp_unsigned(
                "!=", builder.bitcast(hit, ir.IntType(16)), ir.Constant(ir.IntType(16), 0)
            )
            mptr = at(masks_v, c(4 * t), _I32)
            with builder.if_else(anyhit, likely=False) as (then, otherwise):
                with then:
                    sums = builder.uitofp(builder.shuffle_vector(even, o, order), _V32F)
                    score = builder.fsub(
                        builder.fmul(s, builder.fadd(builder.fmul(sums, splat(a_t)), splat(b_t))), ofs
                    )
                    builder.store(score, at(out_v, c(128 * t), _V32F), align=4)
                    mask = builder.bitcast(builder.fcmp_ordered(">", score, splat(thr_t)), _I32)
                    builder.store(mask, mptr)
                    builder.store(builder.or_(builder.load(total_p), mask), total_p)
                with otherwise:
                    builder.store(ir.Constant(_I32, 0), mptr)
        return builder.load(total_p)

    return sig, codegen
