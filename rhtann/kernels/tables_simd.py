"""SIMD intrinsics of the 4-bit lookup tables: one 16-entry table per call.

:func:`table_row16` writes the float table ``0.0 + q_j * levels`` of one
coordinate and :func:`quantize_row16` turns a float table into its byte
table, written twice (at the two offsets of
:func:`rhtann.kernels.tables.table_slots`, the layout the fast-scan kernels of
:mod:`rhtann.kernels.scan_simd` read). Both do, lane by lane, the float32 and
float64 operations of the scalar code in :mod:`rhtann.kernels.tables` and
:func:`rhtann.kernels.tables.quantize_luts_top` (no fused multiply-adds, no
reassociation), so their results are bit-identical to it; numba leaves those
scalar loops unvectorized.

The intrinsics take integer byte addresses (``arr.ctypes.data`` plus an
offset). numba's on-disk cache is keyed on the calling module's source, not
this file: after editing it, delete the cache files under
``rhtann/kernels/__pycache__``.
"""

from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.extending import intrinsic

_F32, _F64, _I32, _I8 = ir.FloatType(), ir.DoubleType(), ir.IntType(32), ir.IntType(8)
_V16F = ir.VectorType(_F32, 16)
_V16D = ir.VectorType(_F64, 16)
_V16I32 = ir.VectorType(_I32, 16)
_V16I8 = ir.VectorType(_I8, 16)


def _splat(builder, x, vty):
    undef = ir.Constant(vty, ir.Undefined)
    one = builder.insert_element(undef, x, ir.Constant(_I32, 0))
    return builder.shuffle_vector(one, undef, ir.Constant(ir.VectorType(_I32, vty.count), [0] * vty.count))


def _addresses_ok(*args) -> bool:
    return all(isinstance(a, types.Integer) for a in args)


@intrinsic
def table_row16(typingctx, levels_p, qj, out_p):
    """``out[v] = 0.0 + qj * levels[v]`` for ``v < 16``, float32 (``levels_p``, ``out_p``: addresses)."""
    if not (_addresses_ok(levels_p, out_p) and isinstance(qj, types.Float)):
        return None
    sig = types.int32(levels_p, qj, out_p)

    def codegen(context, builder, signature, args):
        tys = signature.args
        lp = builder.inttoptr(context.cast(builder, args[0], tys[0], types.intp), _V16F.as_pointer())
        op = builder.inttoptr(context.cast(builder, args[2], tys[2], types.intp), _V16F.as_pointer())
        q = context.cast(builder, args[1], tys[1], types.float32)
        lev = builder.load(lp, align=4)
        prod = builder.fmul(lev, _splat(builder, q, _V16F))
        builder.store(builder.fadd(ir.Constant(_V16F, [0.0] * 16), prod), op, align=4)
        return ir.Constant(_I32, 0)

    return sig, codegen


@intrinsic
def quantize_row16(typingctx, row_p, lo, inv, top, dst_p, copy_p):
    """Byte table of the float table at ``row_p``, stored at ``dst_p`` and again at ``copy_p``.

    Entry ``v`` is ``min(top, max(0, floor(float64(row[v] - lo) * inv + 0.5)))``
    with ``row[v] - lo`` in float32 and the rest in float64 (``lo`` float32,
    ``inv`` and ``top`` float64, ``0 <= top <= 255``).
    """
    if not (_addresses_ok(row_p, dst_p, copy_p) and isinstance(lo, types.Float)
            and isinstance(inv, types.Float) and isinstance(top, types.Float)):
        return None
    sig = types.int32(row_p, lo, inv, top, dst_p, copy_p)

    def codegen(context, builder, signature, args):
        tys = signature.args
        rp = builder.inttoptr(context.cast(builder, args[0], tys[0], types.intp), _V16F.as_pointer())
        dst = context.cast(builder, args[4], tys[4], types.intp)
        lo_v = _splat(builder, context.cast(builder, args[1], tys[1], types.float32), _V16F)
        inv_v = _splat(builder, context.cast(builder, args[2], tys[2], types.float64), _V16D)
        top_v = _splat(builder, context.cast(builder, args[3], tys[3], types.float64), _V16D)
        half = ir.Constant(_V16D, [0.5] * 16)
        zero = ir.Constant(_V16D, [0.0] * 16)
        row = builder.load(rp, align=4)
        y = builder.fadd(builder.fmul(builder.fpext(builder.fsub(row, lo_v), _V16D), inv_v), half)
        # for y >= 0 truncation is the floor; NaN and y < 0 give 0 as max(0, floor(y)) does
        y = builder.select(builder.fcmp_ordered(">", y, zero), y, zero)
        y = builder.select(builder.fcmp_ordered("<", y, top_v), y, top_v)
        b = builder.trunc(builder.fptosi(y, _V16I32), _V16I8)
        p0 = builder.inttoptr(dst, _V16I8.as_pointer())
        p1 = builder.inttoptr(context.cast(builder, args[5], tys[5], types.intp), _V16I8.as_pointer())
        builder.store(b, p0, align=1)
        builder.store(b, p1, align=1)
        return ir.Constant(_I32, 0)

    return sig, codegen
