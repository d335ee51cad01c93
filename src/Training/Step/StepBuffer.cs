using System.Runtime.InteropServices;
using HpcAdam.Collectives;
using HpcAdam.Optim;
using TorchSharp;
using static TorchSharp.torch;

namespace HpcAdam.Training;

/// <summary>
/// The one buffer a step communicates (docs/ALGORITHMS.md, "The step"): [S1 | S2 | buffer changes |
/// loss sum, sample count, non-finite flag, stop request, Σa_k, Σa_k², peak memory of rank 0..P−1],
/// the buffer changes those of <see cref="ModelBuffers"/>, Σa_k and Σa_k² the projections of the
/// micro-batch gradients that the inner-product tests need, and one slot per rank, where only that
/// rank writes, for its peak resident memory. Each rank adds its micro-batches, one
/// all-reduce sums the whole buffer, and every rank then reads the same totals, so a NaN on one
/// rank makes every rank skip the same step, and a signal to one rank stops every rank after the
/// same step, without another collective.
/// </summary>
internal sealed class StepBuffer : IDisposable
{
    private const int LossSum = 0, SampleCount = 1, NonFinite = 2, Stop = 3, ProjectionSum = 4, ProjectionSquareSum = 5, PeakMemory = 6;

    private readonly Tensor _scalars, _hostScalars;
    private readonly bool _staged;
    private double _localLossSum, _localProjectionSum, _localProjectionSquareSum;
    private long _localSamples;

    private readonly int _rank;

    /// <summary>A buffer on <paramref name="device"/> (the CPU by default) for a model of <paramref name="parameters"/> weights and <paramref name="bufferElements"/> buffer elements.</summary>
    public StepBuffer(long parameters, long bufferElements, int rank, int ranks, Device? device = null)
    {
        int scalarCount = PeakMemory + ranks;
        Buffer = zeros(2 * parameters + bufferElements + scalarCount, device: device ?? CPU);
        S1 = Buffer.narrow(0, 0, parameters);
        S2 = Buffer.narrow(0, parameters, parameters);
        BufferChanges = Buffer.narrow(0, 2 * parameters, bufferElements);
        _scalars = Buffer.narrow(0, 2 * parameters + bufferElements, scalarCount);
        // The host writes and reads the scalars: in place on the CPU, through a copy beside a GPU's buffer.
        _staged = Buffer.device_type != DeviceType.CPU;
        _hostScalars = _staged ? zeros(scalarCount) : _scalars;
        _rank = rank;
        PeakResidentMiB = new float[ranks];
    }

    public Tensor Buffer { get; }

    /// <summary>Σ_k g_k over the step's micro-batches.</summary>
    public Tensor S1 { get; }

    /// <summary>Σ_k g_k⊙g_k over the step's micro-batches.</summary>
    public Tensor S2 { get; }

    /// <summary>The weighted changes of the model's buffers (<see cref="ModelBuffers.AddChange"/>), summed like S1.</summary>
    public Tensor BufferChanges { get; }

    /// <summary>After <see cref="Reduce"/>: the summed loss of every sample of the step.</summary>
    public double TotalLoss { get; private set; }

    /// <summary>After <see cref="Reduce"/>: samples in the step, over all ranks.</summary>
    public long TotalSamples { get; private set; }

    /// <summary>After <see cref="Reduce"/>: some rank saw a non-finite loss or gradient.</summary>
    public bool AnyNonFinite { get; private set; }

    /// <summary>After <see cref="Reduce"/>: some rank was asked to stop.</summary>
    public bool AnyStopRequested { get; private set; }

    /// <summary>After <see cref="Reduce"/>: each rank's peak resident memory so far, in MiB.</summary>
    public float[] PeakResidentMiB { get; }

    /// <summary>After <see cref="Reduce"/>: Σ_k a_k and Σ_k a_k² of the projections added on every rank.</summary>
    public (double Sum, double SquareSum) Projections { get; private set; }

    public void Clear()
    {
        Buffer.zero_();
        (_localLossSum, _localSamples, _localProjectionSum, _localProjectionSquareSum) = (0, 0, 0, 0);
    }

    /// <summary>Adds one micro-batch gradient's projection a_k (see <see cref="ProjectionDirection"/>).</summary>
    public void AddProjection(double projection)
    {
        _localProjectionSum += projection;
        _localProjectionSquareSum += projection * projection;
    }

    /// <summary>Adds one micro-batch: its gradient (the flat buffer backward filled) and its mean loss over <paramref name="samples"/>.</summary>
    public void Add(Tensor gradient, double meanLoss, int samples)
    {
        MicroBatchAccumulation.Add(gradient, S1, S2);
        _localLossSum += meanLoss * samples;
        _localSamples += samples;
    }

    /// <summary>Fault injection (HPCADAM_FAULT): this rank's contribution becomes non-finite, in its sums of g and g², or in its loss only.</summary>
    public void Poison(bool lossOnly)
    {
        if (lossOnly)
            _localLossSum = double.NaN;
        else
            S2[0] = float.NaN;
    }

    /// <summary>Sums every rank's buffer: one collective per step, in the same order everywhere.</summary>
    public void Reduce(ICommunicator communicator, bool stopRequested)
    {
        Span<float> scalars = Scalars();
        scalars[LossSum] = (float)_localLossSum;
        scalars[SampleCount] = _localSamples;
        // S2 is non-negative, so its sum is finite exactly when every g_k² is.
        bool nonFinite = !double.IsFinite(_localLossSum) || !float.IsFinite(S2.sum().item<float>()) || !BufferChanges.isfinite().all().item<bool>();
        scalars[NonFinite] = nonFinite ? 1 : 0;
        scalars[Stop] = stopRequested ? 1 : 0;
        scalars[ProjectionSum] = (float)_localProjectionSum;
        scalars[ProjectionSquareSum] = (float)_localProjectionSquareSum;
        scalars[PeakMemory + _rank] = (float)ResidentMemory.PeakMiB();
        if (_staged)
            _scalars.copy_(_hostScalars);
        communicator.AllReduceSum(Buffer);
        if (_staged)
            _hostScalars.copy_(_scalars);
        scalars = Scalars();
        (TotalLoss, TotalSamples, AnyNonFinite, AnyStopRequested) =
            (scalars[LossSum], (long)scalars[SampleCount], scalars[NonFinite] > 0, scalars[Stop] > 0);
        Projections = (scalars[ProjectionSum], scalars[ProjectionSquareSum]);
        scalars[PeakMemory..].CopyTo(PeakResidentMiB);
    }

    private Span<float> Scalars() => MemoryMarshal.Cast<byte, float>(_hostScalars.bytes);

    public void Dispose()
    {
        S1.Dispose();
        S2.Dispose();
        BufferChanges.Dispose();
        if (_staged)
            _hostScalars.Dispose();
        _scalars.Dispose();
        Buffer.Dispose();
    }
}
