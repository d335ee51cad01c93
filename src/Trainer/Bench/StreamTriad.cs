using System.Numerics;
using HpcAdam.Optim;

namespace HpcAdam.Trainer.Bench;

/// <summary>
/// STREAM's triad a = b + s·c over float32, run by the same vectorised, chunked pass as the
/// fused optimizers, so it is the memory-bound floor an elementwise pass can reach here.
/// </summary>
internal sealed class StreamTriad
{
    private const float Scalar = 3f;

    private readonly float[] _a, _b, _c;

    /// <summary>Pinned arrays: the pass works on pointers, and the GC must not move them mid-pass.</summary>
    public StreamTriad(int length)
    {
        _a = GC.AllocateArray<float>(length, pinned: true);
        _b = GC.AllocateArray<float>(length, pinned: true);
        _c = GC.AllocateArray<float>(length, pinned: true);
        _b.AsSpan().Fill(1f);
        _c.AsSpan().Fill(2f);
    }

    /// <summary>STREAM counts each element's read of b and c and write of a: 3 × 4 bytes.</summary>
    public const int BytesPerElement = 3 * sizeof(float);

    public int Length => _a.Length;

    public unsafe void Run(int maxThreads)
    {
        fixed (float* a = _a, b = _b, c = _c)
            VectorPass.Run<float, Triad>(new Triad(Scalar), new Streams(Written: 1, (nint)a, (nint)b, (nint)c), _a.Length, maxThreads);
    }

    private readonly struct Triad(float scalar) : IVectorUpdate<float>
    {
        private readonly Vector<float> _scalar = new(scalar);

        /// <summary>Streams: a (written), b, c.</summary>
        public unsafe void Update(float* a, float* b, float* c, float* unused3, float* unused4) =>
            (Vector.Load(b) + _scalar * Vector.Load(c)).Store(a);
    }
}
