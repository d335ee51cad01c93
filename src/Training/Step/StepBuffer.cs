using HpcAdam.Collectives;
using HpcAdam.Optim;
using TorchSharp;
using static TorchSharp.torch;

namespace HpcAdam.Training;

/// <summary>
/// The one buffer a step communicates (docs/ALGORITHMS.md, "The step"): [S1 | buffer changes |
/// loss sum, non-finite flag | sample count, micro-batch count, weight sum, stop request, Σa_k, Σa_k²,
/// peak memory of rank 0..P−1 | S2],
/// the buffer changes those of <see cref="ModelBuffers"/>, Σa_k and Σa_k² the projections of the
/// micro-batch gradients that the inner-product tests need, and one slot per rank, where only that
/// rank writes, for its peak resident memory. Each rank adds its micro-batches, one
/// all-reduce sums the whole buffer, and every rank then reads the same totals, so a NaN on one
/// rank makes every rank skip the same step, and a signal to one rank stops every rank after the
/// same step, without another collective.
/// <para>The loss sum and the non-finite flag are computed where the buffer lives (on a GPU, with no
/// wait inside the micro-batch loop); the host's scalars are written whole before the all-reduce,
/// and all of them come back in one copy after it: the step's one wait for the device.</para>
/// <para>A micro-batch that gives its loss units w_k (tokens) adds w_k·g_k, w_k·g_k⊙g_k and w_k·loss_k; after
/// the sum, S1 and S2 are rescaled by κ/Σw_k, so that S1/κ is the units-weighted mean gradient and S2/κ the
/// units-weighted mean square, as the optimizer and the statistics expect (docs/ALGORITHMS.md,
/// "Micro-batches of unequal weight"). Without units every weight is 1 and nothing is rescaled.</para>
/// <para>With Collectives:SquaresPrecision = bfloat16, S2 is still accumulated in float32, but travels as
/// bfloat16: rounded to a bfloat16 copy before the sum, which adds it in bfloat16 (each partial sum
/// rounded), and widened back into S2 after it, so the optimizer and the statistics read float32 as
/// before. Everything before S2 stays float32; the two parts are summed together, as one phase
/// (docs/training.md, "Squares in bfloat16").</para>
/// <para>With buckets (Collectives:BucketMiB), the same sums travel in several calls, all started at once:
/// the buffer changes and the scalars first, so that every rank knows at once whether the step is
/// skipped, then S1 and S2 a bucket at a time, each bucket a whole number of the statistics' chunks
/// (docs/training.md, "Buckets"). <see cref="ReduceInBuckets"/> hands each bucket's range to the step as
/// it arrives, while the later ones are still in flight.</para>
/// </summary>
internal sealed class StepBuffer : IDisposable
{
    // Written on the buffer's device, then by the host: every rank's slots of the host part are written anew before each all-reduce.
    private const int LossSum = 0, NonFinite = 1, HostPart = 2;
    private const int SampleCount = 0, MicroBatchCount = 1, WeightSum = 2, Stop = 3, ProjectionSum = 4, ProjectionSquareSum = 5, PeakMemory = 6;

    private readonly Tensor _scalars, _lossSum, _nonFinite, _hostScalars;
    private double _localProjectionSum, _localProjectionSquareSum, _localWeight;
    private long _localSamples, _localMicroBatches;

    private readonly int _rank;

    // What the all-reduce sums: the whole buffer, or the part before S2 and S2's bfloat16 copy; with buckets,
    // the buffer changes and scalars, then each bucket's S1 and S2 (or its bfloat16 copy).
    private readonly Tensor _beforeSquares;
    private readonly Tensor? _squaresSent;
    private readonly Tensor[] _summed;
    private readonly ParameterRange[] _buckets;
    private readonly Tensor[][] _bucketSums;
    private double? _rescale;

    /// <summary>
    /// A buffer on <paramref name="device"/> (the CPU by default) for a model of <paramref name="parameters"/> weights and
    /// <paramref name="bufferElements"/> buffer elements, whose S2 travels in <paramref name="squaresPrecision"/> (float32 or bfloat16),
    /// summed in buckets of <paramref name="bucketElements"/> elements of S1 and of S2, rounded up to a whole number of
    /// <see cref="GradientSums.RangeAlignment"/> (0, or as many as there are parameters: the whole buffer in one call).
    /// </summary>
    public StepBuffer(long parameters, long bufferElements, int rank, int ranks, Device? device = null, ScalarType squaresPrecision = ScalarType.Float32,
        long bucketElements = 0)
    {
        int scalarCount = HostPart + PeakMemory + ranks;
        long beforeSquares = parameters + bufferElements + scalarCount;
        Buffer = zeros(beforeSquares + parameters, device: device ?? CPU);
        S1 = Buffer.narrow(0, 0, parameters);
        BufferChanges = Buffer.narrow(0, parameters, bufferElements);
        _scalars = Buffer.narrow(0, parameters + bufferElements, scalarCount);
        S2 = Buffer.narrow(0, beforeSquares, parameters);
        _lossSum = _scalars.narrow(0, LossSum, 1);
        _nonFinite = _scalars.narrow(0, NonFinite, 1);
        _hostScalars = _scalars.narrow(0, HostPart, scalarCount - HostPart);
        _rank = rank;
        PeakResidentMiB = new float[ranks];
        _beforeSquares = Buffer.narrow(0, 0, beforeSquares);
        if (squaresPrecision == ScalarType.Float32)
            _summed = [Buffer];
        else
        {
            _squaresSent = empty(parameters, squaresPrecision, device: Buffer.device);
            _summed = [_beforeSquares, _squaresSent];
        }
        _buckets = Buckets(parameters, bucketElements);
        _bucketSums = _buckets.Length == 1 ? [] :
        [
            [Buffer.narrow(0, parameters, bufferElements + scalarCount)],
            .. _buckets.Select(bucket => new[] { S1.narrow(0, bucket.Offset, bucket.Count), (_squaresSent ?? S2).narrow(0, bucket.Offset, bucket.Count) }),
        ];
    }

    /// <summary>[0, parameters) cut into ranges of <paramref name="bucketElements"/>, rounded up to whole chunks; the last takes the rest.</summary>
    private static ParameterRange[] Buckets(long parameters, long bucketElements)
    {
        long alignment = GradientSums.RangeAlignment;
        long size = bucketElements <= 0 ? parameters : (bucketElements + alignment - 1) / alignment * alignment;
        if (size >= parameters)
            return [new ParameterRange(0, parameters)];
        return [.. Enumerable.Range(0, (int)((parameters + size - 1) / size)).Select(i => new ParameterRange(i * size, Math.Min(size, parameters - i * size)))];
    }

    /// <summary>How many calls S1 and S2 are summed in: 1 without buckets.</summary>
    public int BucketCount => _buckets.Length;

    /// <summary>[S1 | buffer changes | scalars | S2], float32.</summary>
    public Tensor Buffer { get; }

    /// <summary>Σ_k g_k over the step's micro-batches.</summary>
    public Tensor S1 { get; }

    /// <summary>Σ_k g_k⊙g_k over the step's micro-batches.</summary>
    public Tensor S2 { get; }

    /// <summary>The weighted changes of the model's buffers (<see cref="ModelBuffers.AddChange"/>), summed like S1.</summary>
    public Tensor BufferChanges { get; }

    /// <summary>After <see cref="Reduce"/>: the step's mean loss, each micro-batch's weighed by its loss units (1 when it gives none).</summary>
    public double MeanLoss { get; private set; }

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

    /// <summary>After <see cref="Reduce"/>: the bytes its all-reduce carried, as the communicator counts them (<see cref="ICommunicator.AllReducedBytes"/>).</summary>
    public long AllReduceBytes { get; private set; }

    public void Clear()
    {
        Buffer.zero_();
        (_localSamples, _localMicroBatches, _localWeight, _localProjectionSum, _localProjectionSquareSum) = (0, 0, 0, 0, 0);
    }

    /// <summary>Adds one micro-batch gradient's projection a_k (see <see cref="ProjectionDirection"/>).</summary>
    public void AddProjection(double projection)
    {
        _localProjectionSum += projection;
        _localProjectionSquareSum += projection * projection;
    }

    /// <summary>
    /// Adds one micro-batch of <paramref name="samples"/>: its gradient (the flat buffer backward filled) and
    /// its mean loss, a tensor on the buffer's device that is never read back here, weighed by <paramref name="lossUnits"/> if given.
    /// </summary>
    public void Add(Tensor gradient, Tensor meanLoss, int samples, long? lossUnits = null)
    {
        double weight = lossUnits ?? 1;
        MicroBatchAccumulation.Add(gradient, S1, S2, weight: weight);
        using (no_grad())
            _lossSum.add_(meanLoss.reshape(1), alpha: weight);
        _localSamples += samples;
        _localMicroBatches++;
        _localWeight += weight;
    }

    /// <summary>Fault injection (HPCADAM_FAULT): this rank's contribution becomes non-finite, in its sums of g and g², or in its loss only.</summary>
    public void Poison(bool lossOnly)
    {
        if (lossOnly)
            _lossSum.fill_(float.NaN);
        else
            S2[0] = float.NaN;
    }

    /// <summary>Sums every rank's buffer: one communication phase per step, in the same order everywhere.</summary>
    public void Reduce(ICommunicator communicator, bool stopRequested)
    {
        foreach (ParameterRange _ in ReduceInBuckets(communicator, stopRequested))
        {
        }
    }

    /// <summary>
    /// Sums every rank's buffer, as <see cref="Reduce"/>, and yields the ranges of S1 and S2 in order as their sums arrive:
    /// widened from bfloat16 and rescaled by loss units where those apply, and with the scalars (<see cref="AnyNonFinite"/>,
    /// <see cref="MeanLoss"/> …) read before the first. Without buckets the one range is the whole of S1 and S2. Enumerate to
    /// the end: the buffer may not be cleared for the next step before every bucket has arrived, which ending early waits for.
    /// </summary>
    public IEnumerable<ParameterRange> ReduceInBuckets(ICommunicator communicator, bool stopRequested)
    {
        WriteScalars(stopRequested);
        long bytesBefore = communicator.AllReducedBytes;
        if (_buckets.Length == 1)
        {
            communicator.AllReduceSumTogether(_summed);
            ReadScalars();
            Arrived(_buckets[0]);
        }
        else
        {
            var inFlight = new List<IPendingAllReduce>(_bucketSums.Length);
            try
            {
                inFlight.AddRange(_bucketSums.Select(tensors => communicator.StartAllReduceSumTogether(tensors)));
                inFlight[0].Wait();
                ReadScalars();
                for (int i = 0; i < _buckets.Length; i++)
                {
                    inFlight[i + 1].Wait();
                    Arrived(_buckets[i]);
                    yield return _buckets[i];
                }
            }
            finally
            {
                foreach (IPendingAllReduce pending in inFlight)
                    pending.Dispose();
            }
        }
        AllReduceBytes = communicator.AllReducedBytes - bytesBefore;
        if (_buckets.Length == 1)
            yield return _buckets[0];
    }

    /// <summary>
    /// Before the sum: S2's bfloat16 copy, the non-finite flag and this rank's host scalars, written whole. Rounded to nearest,
    /// ties to even: a NaN or an infinity stays one, and so does a float32 beyond bfloat16's largest finite value.
    /// </summary>
    private void WriteScalars(bool stopRequested)
    {
        _squaresSent?.copy_(S2);
        using var scope = NewDisposeScope();
        // The squares as sent are non-negative, so their sum is finite exactly when every one is.
        Tensor finite = _lossSum.isfinite().all().logical_and((_squaresSent ?? S2).sum().isfinite()).logical_and(BufferChanges.isfinite().all());
        _nonFinite.copy_(finite.logical_not());
        float[] host = new float[_hostScalars.shape[0]];
        host[SampleCount] = _localSamples;
        host[MicroBatchCount] = _localMicroBatches;
        host[WeightSum] = (float)_localWeight;
        host[Stop] = stopRequested ? 1 : 0;
        host[ProjectionSum] = (float)_localProjectionSum;
        host[ProjectionSquareSum] = (float)_localProjectionSquareSum;
        host[PeakMemory + _rank] = (float)ResidentMemory.PeakMiB();
        _hostScalars.copy_(tensor(host));
    }

    /// <summary>After the sum of the scalars: the step's totals, read in one copy to the host.</summary>
    private void ReadScalars()
    {
        float[] scalars = Scalars();
        ReadOnlySpan<float> totals = scalars.AsSpan(HostPart);
        (MeanLoss, AnyNonFinite) = ((double)scalars[LossSum] / totals[WeightSum], scalars[NonFinite] > 0);
        (TotalSamples, AnyStopRequested) = ((long)totals[SampleCount], totals[Stop] > 0);
        _rescale = totals[WeightSum] != totals[MicroBatchCount] ? totals[MicroBatchCount] / (double)totals[WeightSum] : null;
        Projections = (totals[ProjectionSum], totals[ProjectionSquareSum]);
        totals[PeakMemory..].CopyTo(PeakResidentMiB);
    }

    /// <summary>A range's sums have arrived: S2 widened from its bfloat16 copy, S1 and S2 rescaled by κ/Σw_k where micro-batches gave loss units.</summary>
    private void Arrived(ParameterRange range)
    {
        using var scope = NewDisposeScope();
        Tensor s1 = S1.narrow(0, range.Offset, range.Count), s2 = S2.narrow(0, range.Offset, range.Count);
        if (_squaresSent is not null)
            s2.copy_(_squaresSent.narrow(0, range.Offset, range.Count));
        if (_rescale is { } rescale)
            using (no_grad())
            {
                s1.mul_(rescale);
                s2.mul_(rescale);
            }
    }

    /// <summary>The summed scalars, in one copy to the host.</summary>
    private float[] Scalars()
    {
        using var scope = NewDisposeScope();
        return _scalars.to(CPU).data<float>().ToArray();
    }

    public void Dispose()
    {
        foreach (Tensor view in _bucketSums.SelectMany(tensors => tensors))
            view.Dispose();
        _squaresSent?.Dispose();
        _beforeSquares.Dispose();
        S1.Dispose();
        S2.Dispose();
        BufferChanges.Dispose();
        _lossSum.Dispose();
        _nonFinite.Dispose();
        _hostScalars.Dispose();
        _scalars.Dispose();
        Buffer.Dispose();
    }
}

/// <summary>Elements [<see cref="Offset"/>, Offset + <see cref="Count"/>) of the flat parameters, and of S1 and S2.</summary>
public readonly record struct ParameterRange(long Offset, long Count);
