/* The shim's bfloat16 sum (HPC_BFLOAT16): conversions to and from float32 as libtorch does them, and
 * the MPI_User_function that hpcadam_mpi.c registers in hpc_init. Included by hpcadam_mpi.c only. */
#ifndef HPCADAM_BFLOAT16_SUM_H
#define HPCADAM_BFLOAT16_SUM_H

#include <mpi.h>
#include <stdint.h>
#include <string.h>

static float float_from_bfloat16(uint16_t value) {
    uint32_t bits = (uint32_t)value << 16;
    float widened;
    memcpy(&widened, &bits, sizeof widened);
    return widened;
}

/* To nearest, ties to even, as libtorch's round_to_nearest_even (c10/util/BFloat16.h): adding
 * 0x7FFF and the lowest kept bit carries into the kept half exactly when the dropped half is above
 * one half, or one half with an odd kept half; a carry out of the mantissa raises the exponent, so
 * subnormals round into the normals and the largest finite floats round to infinity. A NaN is
 * made quiet first: its payload may lie wholly in the dropped half, which would leave infinity. */
static uint16_t bfloat16_from_float(float value) {
    uint32_t bits;
    memcpy(&bits, &value, sizeof bits);
    if ((bits & 0x7FFFFFFFu) > 0x7F800000u)
        return (uint16_t)((bits >> 16) | 0x0040u);
    return (uint16_t)((bits + 0x7FFFu + ((bits >> 16) & 1u)) >> 16);
}

/* MPI_User_function over MPI_UINT16_T: MPI hands it whole 2-byte elements of whatever part of the
 * buffer it reduces, so no bfloat16 is ever split. The float32 sum of two bfloat16 is exact when
 * their exponents are at most 15 apart; further apart, the smaller is far below half the larger's
 * bfloat16 step and both roundings give the larger. Each partial sum is therefore the exact sum
 * correctly rounded, bit for bit libtorch's (a.float() + b.float()).to(bfloat16). */
static void sum_bfloat16(void *in, void *inout, int *length, MPI_Datatype *datatype) {
    (void)datatype;
    const uint16_t *addend = in;
    uint16_t *sum = inout;
    for (int i = 0; i < *length; i++)
        sum[i] = bfloat16_from_float(float_from_bfloat16(addend[i]) + float_from_bfloat16(sum[i]));
}

#endif
