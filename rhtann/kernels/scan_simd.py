"""SIMD intrinsics of the 4-bit fast scan: byte shuffles on 32 codes at a time.

:func:`fastscan_block1` scores one block of 32 vectors against one query's
uint8 lookup tables, :func:`fastscan_block4` against :data:`QB` queries' tables
with one load of the codes. The block is stored pair-interleaved: for each
pair ``p`` of nibbles, 32 consecutive bytes hold byte ``p`` of the 32
vectors' codes (nibble ``2p`` in the low half, ``2p + 1`` in the high
half). A query's tables take 64 bytes per pair and hold each 16-entry table
twice, laid out for the host (:func:`rhtann.kernels.tables.table_slots`):
without VNNI, pair ``p``'s 64 bytes are the low nibble's table twice (once
per 128-bit lane) then the high one's twice; with VNNI
(:data:`COMPACT_TABLES`), each 128 bytes of two pairs start with their four
tables, 16 bytes each, in nibble order.

Per pair and query the kernel splits the code bytes into their two
nibbles and looks both up with a byte shuffle (``vpshufb`` on x86-64).
Table entries use the whole uint8 range (0..255), so the two looked-up
bytes are not added as bytes; each shuffle result is read as sixteen 16-bit
words (an even lane's byte plus 256 times the next odd lane's byte) and
added into one 16-bit accumulator, and, shifted right by 8 (the odd lane's
byte alone), into a second one. The difference of the first and the second
shifted back left is the even lanes' sum, the second the odd lanes'. The
16-bit arithmetic wraps modulo 2**16 but stays exact while every true sum
is below 65536: a pair adds at most 510 per lane, so the pairs are taken in
segments of at most :data:`SEG_PAIRS` = 128, after each of which the
16-bit sums are widened and added into 32-bit sums. Any number of pairs is
exact while ``255 * M < 2**31`` (``M`` tables), far beyond ``M = 2**20``.
With a single segment (``M <= 256``) the kernel takes a shorter path: the
sums stay 16-bit up to the integer pre-filter, whose bound is then clamped
to 0xFFFF (no such sum can reach a larger one), and are converted to float
only for queries with a lane that may pass. Longer codes keep 32-bit sums
per segment, converted exactly while ``255 * M < 2**31``.

The ``n`` variants (:func:`fastscan_block1n`, :func:`fastscan_block4n`)
are for tables whose entries are all at most 127: the two looked-up bytes
of a pair then add as bytes without carry (at most 254), and that byte sum
goes into the two accumulators, one shift and one addition fewer per pair
and query. Their sums equal the general kernels'.

On CPUs with AVX-512 VBMI (:data:`HAS_VBMI`) the pair loop takes two
pairs per step instead: the 64 code bytes of pairs ``p`` and ``p + 1`` are
reordered so that each 16-bit word holds one vector's byte of both pairs,
each nibble fetches its entry from the two pairs' 128 table bytes with one
two-table byte permute (``vpermi2b``: bit 6 of the index picks the pair,
bit 5 the high nibble's table), and the two bytes of each word are added by
a multiply-add by ones (``vpmaddubsw``) into per-vector 16-bit sums, which
are folded into the even/odd sums above at the end of a segment (the same
sums modulo 2**16). An odd last pair takes the one-pair step. Per query and
two pairs that is two permutes and three additions where the one-pair step
needs four shuffles and eight additions and shifts.

Where AVX-512 VNNI comes with VBMI (:data:`HAS_VNNI`), the sums are kept
per vector in 32-bit lanes instead, for every table range and length: the
64 code bytes of two pairs are reordered so that each 64-bit word holds
four vectors' bytes of both pairs, a multishift (``vpmultishiftqb``)
spreads one vector's four nibbles over the four bytes of a 32-bit lane
(low and high nibble of pair ``p``, then of pair ``p + 1``; bits 4 and 5
of each index then pick the table), two one-register permutes (``vpermb``)
fetch the entries of 32 vectors from the step's four compact tables (one
64-byte load), and two byte dot products by ones (``vpdpbusd``) add them
into the lanes. Per query and two pairs that is one load, two permutes and
two dot products, with no 16-bit segments; an odd last pair takes the same
step with zero code bytes and zero table bytes for its missing partner.
The sums are the same.

The intrinsics take integer byte addresses (``arr.ctypes.data`` plus an
offset) instead of arrays, so that a call inside a scan loop costs no
reference counting. They need AVX2 (``llvm.x86.avx2.pshuf.b``); the VBMI
step uses ``llvm.x86.avx512.vpermi2var.qi.512`` and ``llvm.x86.avx512.pmaddubs.w.512``,
the VNNI step ``llvm.x86.avx512.permvar.qi.512``, ``llvm.x86.avx512.pmultishift.qb.512``
and ``llvm.x86.avx512.vpdpbusd.512``.

numba's on-disk cache is keyed on the calling module's source, not this
file: after editing it, delete the cache files under ``rhtann/kernels/__pycache__``.
"""

from __future__ import annotations

from llvmlite import binding as _llvm
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

#: Vectors per block of the interleaved layout.
LANES = 32


def _host_has(*names: str) -> bool:
    try:
        features = _llvm.get_host_cpu_features()
    except Exception:  # pragma: no cover - exotic hosts: be safe, never emit AVX2
        return False
    return all(bool(features.get(n, False)) for n in names)


#: Whether this CPU runs the AVX2 byte shuffles. The intrinsics must not be
#: compiled or called where it is False (callers use the GEMM path instead).
HAS_AVX2 = _host_has("avx2")
#: Whether the pair loop takes two pairs per step with 64-byte two-table byte
#: permutes (AVX-512 VBMI, see the module docs). numba's cache is keyed on the
#: host CPU, so code built for one choice never loads on a host of the other.
HAS_VBMI = HAS_AVX2 and _host_has("avx512f", "avx512bw", "avx512vbmi")
#: Whether the blocks are summed per vector in 32-bit lanes by byte dot products (AVX-512
#: VNNI with VBMI, see the module docs): the pair loop then takes two pairs per step with
#: two permutes and two ``vpdpbusd`` per query, for tables of any entries up to 255.
HAS_VNNI = HAS_VBMI and _host_has("avx512vnni")
#: Whether the uint8 tables use the compact layout (the VNNI step reads the four 16-entry tables
#: of two pairs as one 64-byte register; see :func:`rhtann.kernels.tables.table_slots`).
COMPACT_TABLES = HAS_VNNI

_I8, _I16, _I32 = ir.IntType(8), ir.IntType(16), ir.IntType(32)
_V32I8 = ir.VectorType(_I8, 32)
_V64I8 = ir.VectorType(_I8, 64)
_V16I16 = ir.VectorType(_I16, 16)
_V32I16 = ir.VectorType(_I16, 32)
_V32F = ir.VectorType(ir.FloatType(), 32)
_V16I32 = ir.VectorType(_I32, 16)


def _shuffle_bytes(builder, table, idx):
    """Per 128-bit lane byte lookup ``table[idx]`` (``idx`` < 16)."""
    fnty = ir.FunctionType(_V32I8, [_V32I8, _V32I8])
    fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.x86.avx2.pshuf.b")
    return builder.call(fn, [table, idx])


def _permute_two(builder, first, idx, second):
    """Byte ``j`` = byte ``idx[j] % 128`` of ``first ++ second`` (64 bytes each, ``vpermi2b``)."""
    fnty = ir.FunctionType(_V64I8, [_V64I8, _V64I8, _V64I8])
    fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.x86.avx512.vpermi2var.qi.512")
    return builder.call(fn, [first, idx, second])


def _permute_one(builder, table, idx):
    """Byte ``j`` = byte ``idx[j] % 64`` of ``table`` (``vpermb``)."""
    fnty = ir.FunctionType(_V64I8, [_V64I8, _V64I8])
    fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.x86.avx512.permvar.qi.512")
    return builder.call(fn, [table, idx])


def _fma(builder, x, y, z):
    """``x * y + z`` rounded once (``llvm.fma`` on float32 vectors)."""
    fnty = ir.FunctionType(x.type, [x.type, x.type, x.type])
    fn = cgutils.get_or_insert_function(builder.module, fnty, f"llvm.fma.v{x.type.count}f32")
    return builder.call(fn, [x, y, z])


def _multishift(builder, ctrl, data):
    """Byte ``j`` = the 8 bits of ``data``'s qword ``j // 8`` from bit ``ctrl[j]`` on (``vpmultishiftqb``)."""
    fnty = ir.FunctionType(_V64I8, [_V64I8, _V64I8])
    fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.x86.avx512.pmultishift.qb.512")
    return builder.call(fn, [ctrl, data])


def _dot_bytes(builder, acc, x):
    """``acc`` plus, per 32-bit lane, the sum of ``x``'s four unsigned bytes (``vpdpbusd`` by ones)."""
    fnty = ir.FunctionType(_V16I32, [_V16I32, _V16I32, _V16I32])
    fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.x86.avx512.vpdpbusd.512")
    ones = ir.Constant(_V16I32, [0x01010101] * 16)
    return builder.call(fn, [acc, builder.bitcast(x, _V16I32), ones])


def _pair_sums(builder, x):
    """Sum of the two bytes of each 16-bit word of ``x`` (``vpmaddubsw`` by ones; sums <= 510)."""
    fnty = ir.FunctionType(_V32I16, [_V64I8, _V64I8])
    fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.x86.avx512.pmaddubs.w.512")
    return builder.call(fn, [x, ir.Constant(_V64I8, [1] * 64)])


#: Pairs of nibble tables accumulated in 16-bit lanes before they are widened to 32 bits
#: (``510 * SEG_PAIRS < 65536``).
SEG_PAIRS = 128

#: Queries scored together by :func:`fastscan_block4` (one load of the codes serves all of them):
#: eight with the VNNI step (two 32-bit sums per query stay in registers, and the code shuffles
#: of a step are shared by more queries), four otherwise (the AVX2 step's two 16-bit sums per
#: query fill the sixteen 256-bit registers at eight).
QB = 8 if HAS_VNNI else 4


def _fastscan_typer(
    qb, narrow, bounded, codes_p, npairs, luts_p, lstride, sv_p, half, ev_p, ab_p, thr_p, out_p, masks_p
):
    """Score one block of 32 vectors for ``qb`` queries (``narrow``: tables of entries <= 127;
    ``bounded``: skip the float scores of queries whose integer sums all stay below their bound).

    ``score[t, j] = sv[j] * (a_t * S_tj + b_t) - ev[j]``, computed in float32
    as two fused multiply-adds, where ``S_tj`` is the sum of query ``t``'s
    table entries over vector ``j``'s nibbles. The
    tables of query ``t`` start at ``luts_p + t * lstride``; entries are
    0..255 and the sums are exact (32-bit) for any ``npairs < 2**22``.

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
        Address of ``2 qb`` float32: ``(a_t, b_t)`` of query ``t`` at ``2t, 2t + 1``.
    thr_p : int
        Address of ``qb`` float32 thresholds followed by ``qb`` int32 bounds:
        a lane of query ``t`` is scored only if its integer sum is at least
        bound ``t`` (compared as unsigned 32-bit integers) (see :func:`rhtann.kernels.scan.int_bound`).
    out_p : int
        Address of ``32 qb`` float32 receiving query ``t``'s scores at ``32 t``
        (written only for queries with a lane that may pass).
    masks_p : int
        Address of ``qb`` uint32 receiving, per query, bit ``j`` set when
        score ``j`` exceeds the threshold.

    Returns
    -------
    uint32
        With one query, its mask; with several, bit ``t`` set when query
        ``t``'s mask is nonzero.

    Notes
    -----
    With ``bounded``, queries whose integer sums all stay below their bound
    skip the float work (their ``out`` rows are left as they were);
    without it the bounds are not read and every query is scored.
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
        zero32 = ir.Constant(_V16I32, None)
        low = ir.Constant(_V32I8, [15] * 32)
        four = ir.Constant(_V16I16, [4] * 16)
        eight = ir.Constant(_V16I16, [8] * 16)
        zero64 = ir.Constant(_V32I16, None)
        low64 = ir.Constant(_V64I8, [15] * 64)
        four32 = ir.Constant(_V32I16, [4] * 32)
        # word v of a reordered pair of pairs: (vector v's byte of pair p, its byte of pair p + 1)
        interleave = ir.Constant(ir.VectorType(_I32, 64), [j // 2 + 32 * (j % 2) for j in range(64)])
        # table bytes of a pair: low nibble's entries at 0, high nibble's at 32; pair p + 1's at 64 on
        pick_lo = ir.Constant(_V64I8, [64 * (j % 2) for j in range(64)])
        pick_hi = ir.Constant(_V64I8, [64 * (j % 2) + 32 for j in range(64)])
        even_lanes = ir.Constant(ir.VectorType(_I32, 16), list(range(0, 32, 2)))
        odd_lanes = ir.Constant(ir.VectorType(_I32, 16), list(range(1, 32, 2)))
        qoff = [builder.add(luts_v, builder.mul(lstride_v, c(t))) for t in range(qb)]
        seg = c(SEG_PAIRS)
        f32 = ir.FloatType()
        total_p = cgutils.alloca_once_value(builder, ir.Constant(_I32, 0))
        order = ir.Constant(ir.VectorType(_I32, 32), [k // 2 + 16 * (k % 2) for k in range(32)])
        lim16 = ir.Constant(_I32, 0xFFFF)

        def pair_step(p, accs):
            """Add pair ``p``'s looked-up entries into the 16-bit sums ``accs`` (two per query)."""
            cv = builder.load(at(codes_v, builder.mul(p, c(32)), _V32I8), align=1)
            lo = builder.and_(cv, low)
            shifted = builder.lshr(builder.bitcast(cv, _V16I16), four)
            hi = builder.and_(builder.bitcast(shifted, _V32I8), low)
            p64 = builder.mul(p, c(64))
            for t in range(qb):
                t_lo = builder.load(at(qoff[t], p64, _V32I8), align=1)
                t_hi = builder.load(at(qoff[t], builder.add(p64, c(32)), _V32I8), align=1)
                b_lo = _shuffle_bytes(builder, t_lo, lo)
                b_hi = _shuffle_bytes(builder, t_hi, hi)
                if narrow:
                    # entries <= 127: the two looked-up bytes add without carry
                    both = builder.bitcast(builder.add(b_lo, b_hi), _V16I16)
                    odd = builder.lshr(both, eight)
                else:
                    w_lo = builder.bitcast(b_lo, _V16I16)
                    w_hi = builder.bitcast(b_hi, _V16I16)
                    both = builder.add(w_lo, w_hi)
                    odd = builder.add(builder.lshr(w_lo, eight), builder.lshr(w_hi, eight))
                builder.store(builder.add(builder.load(accs[2 * t]), both), accs[2 * t])
                builder.store(builder.add(builder.load(accs[2 * t + 1]), odd), accs[2 * t + 1])

        def pair_step2(p, sums):
            """Pairs ``p`` and ``p + 1`` into the per-vector 16-bit sums ``sums`` (VBMI).

            The 64 code bytes of the two pairs are reordered so that word
            ``v`` holds vector ``v``'s bytes of both pairs; each nibble picks
            its entry from the two pairs' 128 table bytes by one two-table
            permute (bit 6 of the index selects the pair, bit 5 the high
            nibble's table), and the two bytes of each word are added.
            """
            cv = builder.load(at(codes_v, builder.mul(p, c(32)), _V64I8), align=1)
            cv = builder.shuffle_vector(cv, cv, interleave)
            lo = builder.or_(builder.and_(cv, low64), pick_lo)
            shifted = builder.lshr(builder.bitcast(cv, _V32I16), four32)
            hi = builder.or_(builder.and_(builder.bitcast(shifted, _V64I8), low64), pick_hi)
            p64 = builder.mul(p, c(64))
            for t in range(qb):
                first = builder.load(at(qoff[t], p64, _V64I8), align=1)
                second = builder.load(at(qoff[t], builder.add(p64, c(64)), _V64I8), align=1)
                b_lo = _permute_two(builder, first, lo, second)
                b_hi = _permute_two(builder, first, hi, second)
                if narrow:
                    # entries <= 127: the two looked-up bytes add without carry
                    both = _pair_sums(builder, builder.add(b_lo, b_hi))
                else:
                    both = builder.add(_pair_sums(builder, b_lo), _pair_sums(builder, b_hi))
                builder.store(builder.add(builder.load(sums[t]), both), sums[t])

        def pair_range(p0, count, accs):
            """Add pairs ``p0 .. p0 + count - 1`` into the 16-bit sums ``accs``.

            With VBMI (:data:`HAS_VBMI`) two pairs go per step into
            per-vector sums, which are then added into ``accs`` in their
            even/odd form (the same sums modulo 2**16), and an odd last pair
            takes the one-pair step.
            """
            if not HAS_VBMI:
                with cgutils.for_range(builder, count) as loop:
                    pair_step(builder.add(p0, loop.index), accs)
                return
            sums = [cgutils.alloca_once_value(builder, zero64) for _ in range(qb)]
            with cgutils.for_range(builder, builder.ashr(count, c(1))) as loop:
                pair_step2(builder.add(p0, builder.shl(loop.index, c(1))), sums)
            for t in range(qb):
                w = builder.load(sums[t])
                even = builder.shuffle_vector(w, w, even_lanes)
                odd = builder.shuffle_vector(w, w, odd_lanes)
                both = builder.add(even, builder.shl(odd, eight))
                builder.store(builder.add(builder.load(accs[2 * t]), both), accs[2 * t])
                builder.store(builder.add(builder.load(accs[2 * t + 1]), odd), accs[2 * t + 1])
            with builder.if_then(builder.icmp_signed("!=", builder.and_(count, c(1)), c(0))):
                pair_step(builder.add(p0, builder.sub(count, c(1))), accs)

        def splat(x):
            undef = ir.Constant(_V32F, ir.Undefined)
            one = builder.insert_element(undef, x, ir.Constant(_I32, 0))
            return builder.shuffle_vector(one, undef, ir.Constant(ir.VectorType(_I32, 32), [0] * 32))

        def load_scales():
            is_half = builder.icmp_signed("!=", half_v, c(0))
            with builder.if_else(is_half) as (then, otherwise):
                with then:
                    raw = builder.load(at(sv_v, None, _V32I16), align=2)
                    s_half = builder.fpext(builder.bitcast(raw, ir.VectorType(ir.HalfType(), 32)), _V32F)
                    bb_half = builder.block
                with otherwise:
                    s_full = builder.load(at(sv_v, None, _V32F), align=4)
                    bb_full = builder.block
            sv_vec = builder.phi(_V32F)
            sv_vec.add_incoming(s_half, bb_half)
            sv_vec.add_incoming(s_full, bb_full)
            return sv_vec

        def splat_int(x, vty):
            undef = ir.Constant(vty, ir.Undefined)
            one = builder.insert_element(undef, x, ir.Constant(_I32, 0))
            return builder.shuffle_vector(one, undef, ir.Constant(ir.VectorType(_I32, 16), [0] * 16))

        def any_at_least(even, odd, bound):
            ge = builder.icmp_unsigned
            hit = builder.or_(ge(">=", even, bound), ge(">=", odd, bound))
            nothing = ir.Constant(ir.IntType(16), 0)
            return builder.icmp_unsigned("!=", builder.bitcast(hit, ir.IntType(16)), nothing)

        def block_terms():
            """The block's 32 scales and offsets (float32), loaded once for every query."""
            return load_scales(), builder.fneg(builder.load(at(ev_v, None, _V32F), align=4))

        def finish(t, hit, sums_of, terms):
            """Scores and mask of query ``t`` when ``hit`` (``sums_of()``: float32 sums in lane order;
            ``terms``: :func:`block_terms`)."""
            mptr = at(masks_v, c(4 * t), _I32)
            if not bounded:
                hit = ir.Constant(ir.IntType(1), 1)
            with builder.if_else(hit, likely=False) as (then, otherwise):
                with then:
                    sums = sums_of()
                    sv_vec, neg_ofs = terms
                    a_t = builder.load(at(ab_v, c(8 * t), f32))
                    b_t = builder.load(at(ab_v, c(8 * t + 4), f32))
                    thr_t = builder.load(at(thr_v, c(4 * t), f32))
                    score = _fma(builder, sv_vec, _fma(builder, sums, splat(a_t), splat(b_t)), neg_ofs)
                    builder.store(score, at(out_v, c(128 * t), _V32F), align=4)
                    mask = builder.bitcast(builder.fcmp_ordered(">", score, splat(thr_t)), _I32)
                    builder.store(mask, mptr)
                    if qb == 1:
                        summary = mask
                    else:
                        nonzero = builder.icmp_unsigned("!=", mask, ir.Constant(_I32, 0))
                        summary = builder.shl(builder.zext(nonzero, _I32), ir.Constant(_I32, t))
                    builder.store(builder.or_(builder.load(total_p), summary), total_p)
                with otherwise:
                    builder.store(ir.Constant(_I32, 0), mptr)

        def split(accs, t):
            """Even and odd lanes' 16-bit sums of query ``t``."""
            o16 = builder.load(accs[2 * t + 1])
            return builder.sub(builder.load(accs[2 * t]), builder.shl(o16, eight)), o16

        terms = block_terms()  # the block's scales and offsets, shared by every query and path
        if HAS_VNNI:
            # 32-bit per-vector sums: two pairs per step, vector v's four nibbles in one lane
            # (bytes: low, high nibble of pair p, low, high of pair p + 1), summed by vpdpbusd.
            # The code bytes are arranged so that qword q holds vectors 2q, 2q+1 (both pairs)
            # then 16+2q, 17+2q; a multishift picks each lane's nibbles, and bits 4 and 5 of an
            # index select which of the step's four compact tables (one 64-byte register) it reads.
            arrange = []
            for q in range(8):
                for v in (2 * q, 2 * q + 1, 16 + 2 * q, 17 + 2 * q):
                    arrange += [v, 32 + v]
            arrange_c = ir.Constant(ir.VectorType(_I32, 64), arrange)
            ctrl = [ir.Constant(_V64I8, [4 * (j % 8) + 32 * half for j in range(64)]) for half in (0, 1)]
            sel = ir.Constant(_V64I8, [16 * (j % 4) for j in range(64)])
            lanes = [cgutils.alloca_once_value(builder, zero32) for _ in range(2 * qb)]
            # one query has only two sums, so a chain of dot products (latency 5 or so) would bound
            # the loop: alternate steps go into a second set of sums, added at the end
            spare = [cgutils.alloca_once_value(builder, zero32) for _ in range(2 * qb)] if qb == 1 else None
            widen = ir.Constant(ir.VectorType(_I32, 64), list(range(64)))

            def vnni_step(cv, p64, last, lanes=lanes):
                """Add two pairs' entries (``cv``: their 64 code bytes, tables at ``p64``) into ``lanes``.

                ``last``: only the first pair exists; its partner's code bytes
                and table bytes are taken as zero.
                """
                cv = builder.shuffle_vector(cv, cv, arrange_c)
                idx = [builder.or_(builder.and_(_multishift(builder, ctrl[h], cv), low64), sel)
                       for h in (0, 1)]
                for t in range(qb):
                    if last:
                        half_t = builder.load(at(qoff[t], p64, _V32I8), align=1)
                        table = builder.shuffle_vector(half_t, ir.Constant(_V32I8, None), widen)
                    else:
                        table = builder.load(at(qoff[t], p64, _V64I8), align=1)
                    for h in (0, 1):
                        got = _permute_one(builder, table, idx[h])
                        slot = lanes[2 * t + h]
                        builder.store(_dot_bytes(builder, builder.load(slot), got), slot)

            def full_step(p, into):
                cv = builder.load(at(codes_v, builder.mul(p, c(32)), _V64I8), align=1)
                vnni_step(cv, builder.mul(p, c(64)), False, into)

            if spare is None:
                with cgutils.for_range(builder, builder.ashr(npairs_v, c(1))) as loop:
                    full_step(builder.shl(loop.index, c(1)), lanes)
            else:
                with cgutils.for_range(builder, builder.ashr(npairs_v, c(2))) as loop:
                    p = builder.shl(loop.index, c(2))
                    full_step(p, lanes)
                    full_step(builder.add(p, c(2)), spare)
                with builder.if_then(builder.icmp_signed("!=", builder.and_(npairs_v, c(2)), c(0))):
                    full_step(builder.sub(builder.and_(npairs_v, c(-2)), c(2)), lanes)
                for slot, extra in zip(lanes, spare, strict=True):
                    builder.store(builder.add(builder.load(slot), builder.load(extra)), slot)
            odd_pair = builder.icmp_signed("!=", builder.and_(npairs_v, c(1)), c(0))
            with builder.if_then(odd_pair):
                # the last pair of an odd count, with zero bytes for the missing partner
                p = builder.sub(npairs_v, c(1))
                half = builder.load(at(codes_v, builder.mul(p, c(32)), _V32I8), align=1)
                cv = builder.shuffle_vector(half, ir.Constant(_V32I8, None), widen)
                vnni_step(cv, builder.mul(p, c(64)), True)
            whole = ir.Constant(ir.VectorType(_I32, 32), list(range(32)))
            for t in range(qb):
                lo_v, hi_v = builder.load(lanes[2 * t]), builder.load(lanes[2 * t + 1])
                ti = builder.load(at(thr_v, c(4 * qb + 4 * t), _I32))
                hit = any_at_least(lo_v, hi_v, splat_int(ti, _V16I32))
                # the sums are below 2**31 (255 * M < 2**31), so a signed conversion is exact
                finish(t, hit, lambda lo_v=lo_v, hi_v=hi_v: builder.sitofp(
                    builder.shuffle_vector(lo_v, hi_v, whole), _V32F), terms)
            return builder.load(total_p)

        single = builder.icmp_signed("<=", npairs_v, seg)
        with builder.if_else(single, likely=True) as (one_seg, many_segs):
            with one_seg:
                # every sum stays below 2**16: no widening, the pre-filter compares 16-bit sums
                accs = [cgutils.alloca_once_value(builder, zero) for _ in range(2 * qb)]
                pair_range(c(0), npairs_v, accs)
                for t in range(qb):
                    e16, o16 = split(accs, t)
                    ti = builder.load(at(thr_v, c(4 * qb + 4 * t), _I32))
                    clamped = builder.select(builder.icmp_unsigned("<", ti, lim16), ti, lim16)
                    hit = any_at_least(e16, o16, splat_int(builder.trunc(clamped, _I16), _V16I16))
                    finish(t, hit, lambda e16=e16, o16=o16: builder.uitofp(
                        builder.shuffle_vector(e16, o16, order), _V32F), terms)
            with many_segs:
                accs = [cgutils.alloca_once_value(builder, zero) for _ in range(2 * qb)]
                wide = [cgutils.alloca_once_value(builder, zero32) for _ in range(2 * qb)]
                nseg = builder.udiv(builder.add(npairs_v, c(SEG_PAIRS - 1)), seg)
                with cgutils.for_range(builder, nseg) as sloop:
                    # widen the previous segment's 16-bit sums (zero before the first) and restart them
                    for t in range(qb):
                        e16, o16 = split(accs, t)
                        for slot, part in ((2 * t, e16), (2 * t + 1, o16)):
                            grown = builder.add(builder.load(wide[slot]), builder.zext(part, _V16I32))
                            builder.store(grown, wide[slot])
                    for t in range(2 * qb):
                        builder.store(zero, accs[t])
                    p0 = builder.mul(sloop.index, seg)
                    left = builder.sub(npairs_v, p0)
                    count = builder.select(builder.icmp_signed("<", left, seg), left, seg)
                    pair_range(p0, count, accs)
                for t in range(qb):
                    # the last segment's sums are still 16-bit; earlier segments' are in ``wide``
                    e16, o16 = split(accs, t)
                    even = builder.add(builder.load(wide[2 * t]), builder.zext(e16, _V16I32))
                    odd = builder.add(builder.load(wide[2 * t + 1]), builder.zext(o16, _V16I32))
                    ti = builder.load(at(thr_v, c(4 * qb + 4 * t), _I32))
                    hit = any_at_least(even, odd, splat_int(ti, _V16I32))
                    # the sums are below 2**31 (255 * M < 2**31), so a signed conversion is exact
                    finish(t, hit, lambda even=even, odd=odd: builder.sitofp(
                        builder.shuffle_vector(even, odd, order), _V32F), terms)
        return builder.load(total_p)

    return sig, codegen


def _make_fastscan(qb: int, narrow: bool = False, bounded: bool = True):
    def typer(typingctx, codes_p, npairs, luts_p, lstride, sv_p, half, ev_p, ab_p, thr_p, out_p, masks_p):
        return _fastscan_typer(
            qb, narrow, bounded, codes_p, npairs, luts_p, lstride, sv_p, half, ev_p, ab_p, thr_p, out_p,
            masks_p,
        )

    typer.__name__ = f"fastscan_block{qb}{'n' if narrow else ''}{'' if bounded else 'u'}"
    typer.__doc__ = (
        f"Fast scan of one block of 32 codes for {qb} quer{'y' if qb == 1 else 'ies'} (see the module docs)."
    )
    return intrinsic(typer)


#: One query per call.
fastscan_block1 = _make_fastscan(1)
#: ``QB`` queries per call.
fastscan_block4 = _make_fastscan(QB)
#: :func:`fastscan_block1` for tables whose entries are all at most 127.
fastscan_block1n = _make_fastscan(1, True)
#: :func:`fastscan_block4` for tables whose entries are all at most 127.
fastscan_block4n = _make_fastscan(QB, True)
#: :func:`fastscan_block4` without the integer pre-filter: every query is scored, the bounds
#: are not read (the flat scan where :data:`rhtann.kernels.scan.PREFILTER` is off).
fastscan_block4u = _make_fastscan(QB, False, False)
#: :func:`fastscan_block4n` without the integer pre-filter.
fastscan_block4nu = _make_fastscan(QB, True, False)


@intrinsic
def lowest_bit(typingctx, mask):
    """Index of the lowest set bit of a nonzero uint32 ``mask`` (``llvm.cttz``; undefined for 0)."""
    if not isinstance(mask, types.Integer):
        return None

    def codegen(context, builder, signature, args):
        x = context.cast(builder, args[0], signature.args[0], types.uint32)
        fn = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(_I32, [_I32, ir.IntType(1)]), "llvm.cttz.i32"
        )
        r = builder.call(fn, [x, ir.Constant(ir.IntType(1), 1)])
        return context.cast(builder, r, types.uint32, types.int64)

    return types.int64(mask), codegen
