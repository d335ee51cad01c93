// Runs FusedKernels.cu's kernels on the CPU, block by block and thread by thread, with just enough
// of CUDA's built-ins defined for the source to compile as C++. It checks the kernels' indexing
// (grid-stride loop, float4 path, tail, scalar path for unaligned buffers) and arithmetic against
// the host passes where no GPU is; it says nothing of NVRTC, the driver or the hardware.
// Built by the test with -ffp-contract=off, as NVRTC compiles the kernels with --fmad=false.
#include <cmath>

struct float4 { float x, y, z, w; };
static inline float4 make_float4(float x, float y, float z, float w) { return {x, y, z, w}; }
struct Dimensions { unsigned x, y, z; };
static Dimensions blockIdx, threadIdx, blockDim, gridDim;
#define __global__
#define __device__

#include "FusedKernels.cu"

template <class Kernel>
static void emulate(unsigned grid, unsigned block, Kernel kernel)
{
    gridDim = {grid, 1, 1};
    blockDim = {block, 1, 1};
    for (unsigned b = 0; b < grid; b++)
        for (unsigned t = 0; t < block; t++)
        {
            blockIdx = {b, 0, 0};
            threadIdx = {t, 0, 0};
            kernel();
        }
}

extern "C" void emulate_adam_step(unsigned grid, unsigned block, float* w, float* m, float* v, float* s1, float* s2, AdamScalars c, Index count)
{
    emulate(grid, block, [&] { hpcadam_adam_step(w, m, v, s1, s2, c, count); });
}

extern "C" void emulate_adagrad_step(unsigned grid, unsigned block, float* w, float* a, float* s1, AdaGradScalars c, Index count)
{
    emulate(grid, block, [&] { hpcadam_adagrad_step(w, a, s1, c, count); });
}

extern "C" void emulate_scaled_descent(unsigned grid, unsigned block, float* w, float* s1, float decay, float scale, Index count)
{
    emulate(grid, block, [&] { hpcadam_scaled_descent(w, s1, decay, scale, count); });
}

extern "C" void emulate_accumulate(unsigned grid, unsigned block, float* s1, float* s2, float* g, Index count)
{
    emulate(grid, block, [&] { hpcadam_accumulate(s1, s2, g, count); });
}
