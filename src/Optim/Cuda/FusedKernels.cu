// The optimizer steps and the micro-batch accumulation as one kernel each over flat float32
// buffers: the same formulas, in the same order of operations, as the host passes
// (FusedAdamKernel.cs, FusedAdaGradKernel.cs, MicroBatchAccumulation.cs). Compiled at run time
// by NVRTC with --fmad=false and IEEE division and square root, so that no multiply-add is
// contracted and a GPU step gives the host pass's bits. Ran on an H200 (docs/running.md, "GPUs").

typedef long long Index;   // counts reach 2^31 and beyond

// A grid-stride pass over `count` elements of N streams, the first `Written` of them read and
// written, the rest only read; a null stream reads as zeros. `update` sees one element of every
// stream in `x[0..N)`, as the host's IVectorUpdate sees one vector of each. Where every stream
// is 16-byte aligned (a flat buffer's views usually are), four elements a thread per turn in
// float4 loads and stores; the remainder, or everything otherwise, one element at a time.
template <int N, int Written, class Update>
__device__ void grid_stride_pass(float* const (&stream)[N], Index count, const Update& update)
{
    const Index first = (Index)blockIdx.x * blockDim.x + threadIdx.x;
    const Index stride = (Index)gridDim.x * blockDim.x;
    bool aligned = true;
#pragma unroll
    for (int s = 0; s < N; s++)
        aligned = aligned && ((unsigned long long)stream[s] & 15) == 0;

    Index scalarFrom = 0;
    if (aligned)
    {
        const Index quads = count / 4;
        for (Index q = first; q < quads; q += stride)
        {
            float4 quad[N];
#pragma unroll
            for (int s = 0; s < N; s++)
                quad[s] = stream[s] ? reinterpret_cast<const float4*>(stream[s])[q] : make_float4(0.f, 0.f, 0.f, 0.f);
#pragma unroll
            for (int lane = 0; lane < 4; lane++)
            {
                float x[N];
#pragma unroll
                for (int s = 0; s < N; s++)
                    x[s] = reinterpret_cast<float*>(&quad[s])[lane];
                update(x);
#pragma unroll
                for (int s = 0; s < Written; s++)
                    reinterpret_cast<float*>(&quad[s])[lane] = x[s];
            }
#pragma unroll
            for (int s = 0; s < Written; s++)
                reinterpret_cast<float4*>(stream[s])[q] = quad[s];
        }
        scalarFrom = quads * 4;
    }
    for (Index i = scalarFrom + first; i < count; i += stride)
    {
        float x[N];
#pragma unroll
        for (int s = 0; s < N; s++)
            x[s] = stream[s] ? stream[s][i] : 0.f;
        update(x);
#pragma unroll
        for (int s = 0; s < Written; s++)
            stream[s][i] = x[s];
    }
}

// AdamStepCoefficients rounded to float, field for field AdamKernelScalars in FusedGpuKernels.cs.
struct AdamScalars
{
    float inverseKappa, gamma1, keep1, gamma2, keep2, weightDecayFactor, stepSize, inverseBiasCorrection2, epsilon;
    int meanOfSquares, epsilonInsideSqrt;
};

// Streams: w, m, v (written), S1, S2 (null for the square of the mean).
struct AdamUpdate
{
    AdamScalars c;

    __device__ void operator()(float* x) const
    {
        float& w = x[0];
        float& m = x[1];
        float& v = x[2];
        const float meanGradient = x[3] * c.inverseKappa;
        const float second = c.meanOfSquares ? x[4] * c.inverseKappa : meanGradient * meanGradient;
        m = c.keep1 * m + c.gamma1 * meanGradient;      // Alg. 3 line 2
        v = c.keep2 * v + c.gamma2 * second;            // Alg. 3 line 3 (Alg. 2: ḡ²)
        const float correctedV = v * c.inverseBiasCorrection2;
        const float denominator = c.epsilonInsideSqrt
            ? sqrtf(correctedV + c.epsilon)              // Alg. 1 as written
            : sqrtf(correctedV) + c.epsilon;             // PyTorch's convention
        w = c.weightDecayFactor * w - c.stepSize * m / denominator;
    }
};

// The fields of AdaGradKernelScalars in FusedGpuKernels.cs.
struct AdaGradScalars
{
    float inverseKappa, weightDecayFactor, learningRate, epsilon;
    int epsilonInsideSqrt;
};

// Streams: w, a (written), S1. a ← a + ḡ²;  w ← (1 − ηλ)·w − η·ḡ / (√a + ε)  (or √(a + ε)).
struct AdaGradUpdate
{
    AdaGradScalars c;

    __device__ void operator()(float* x) const
    {
        const float meanGradient = x[2] * c.inverseKappa;
        x[1] = x[1] + meanGradient * meanGradient;
        const float denominator = c.epsilonInsideSqrt ? sqrtf(x[1] + c.epsilon) : sqrtf(x[1]) + c.epsilon;
        x[0] = c.weightDecayFactor * x[0] - c.learningRate * meanGradient / denominator;
    }
};

// Streams: w (written), S1. w ← (1 − ηλ)·w − scale·S1: AdaGrad-Norm's step once b is known.
struct ScaledDescentUpdate
{
    float weightDecayFactor, scale;

    __device__ void operator()(float* x) const { x[0] = weightDecayFactor * x[0] - scale * x[1]; }
};

// Streams: S1, S2 (written), g. S1 += g, S2 += g⊙g.
struct AccumulateUpdate
{
    __device__ void operator()(float* x) const
    {
        x[0] = x[0] + x[2];
        x[1] = x[1] + x[2] * x[2];
    }
};

extern "C" __global__ void hpcadam_adam_step(float* w, float* m, float* v, float* s1, float* s2, AdamScalars c, Index count)
{
    float* const stream[5] = {w, m, v, s1, c.meanOfSquares ? s2 : nullptr};
    grid_stride_pass<5, 3>(stream, count, AdamUpdate{c});
}

extern "C" __global__ void hpcadam_adagrad_step(float* w, float* a, float* s1, AdaGradScalars c, Index count)
{
    float* const stream[3] = {w, a, s1};
    grid_stride_pass<3, 2>(stream, count, AdaGradUpdate{c});
}

extern "C" __global__ void hpcadam_scaled_descent(float* w, float* s1, float weightDecayFactor, float scale, Index count)
{
    float* const stream[2] = {w, s1};
    grid_stride_pass<2, 1>(stream, count, ScaledDescentUpdate{weightDecayFactor, scale});
}

extern "C" __global__ void hpcadam_accumulate(float* s1, float* s2, float* g, Index count)
{
    float* const stream[3] = {s1, s2, g};
    grid_stride_pass<3, 2>(stream, count, AccumulateUpdate{});
}
