using System.Diagnostics;
using HpcAdam.Collectives;
using TorchSharp;
using static TorchSharp.torch;

namespace HpcAdam.Training;

/// <summary>
/// Where each step's time goes, in the step's order: compute (gather, forward, backward, S1/S2
/// accumulation), communication (the one all-reduce), statistics (gradient statistics, noise scale,
/// the batch-size test), optimizer (clipping and the update) and other (metrics, progress). Evaluation and checkpoints fall between
/// steps and are not counted, so throughput is of training alone.
/// <para>On the CPU the phases are the host's clock. On a GPU the host only queues work and the
/// next synchronisation absorbs it, so the phases are read from CUDA events recorded on the
/// device's stream at each boundary (<see cref="CudaEventClock"/>): the device's time, with no
/// synchronisation added inside the step; the step waits once, at its end, for the last event.</para>
/// <para>The steady state (docs/training.md, "Throughput") leaves the warm-up out: it is the last
/// half of this start's steps, at most the last <see cref="SteadyWindow"/>; its step time is the
/// median of those steps and its throughput their samples over their time.</para>
/// </summary>
internal sealed class StepTimings : IDisposable
{
    public const int SteadyWindow = 1000;
    private const int Marks = 6;

    private readonly Stopwatch _clock = new(), _wall = Stopwatch.StartNew();
    private readonly CudaEventClock? _device;
    private readonly double[] _hostMarks = new double[Marks], _intervals = new double[Marks - 1];
    private readonly (PhaseTimes Ms, double HostMs, long Samples)[] _recent = new (PhaseTimes, double, long)[SteadyWindow];
    private PhaseTimes _sums;
    private double _stepTotal;
    private long _steps;

    /// <summary>The clock of a run on <paramref name="device"/>.</summary>
    public StepTimings(Device device)
    {
        if (device.type == DeviceType.CUDA)
            _device = new CudaEventClock(device.index, Marks);
    }

    /// <summary>The last step's milliseconds by phase.</summary>
    public PhaseTimes Last { get; private set; }

    /// <summary>Seconds since the first step began to be timed, evaluation and checkpoints included.</summary>
    public double WallSeconds => _wall.Elapsed.TotalSeconds;

    /// <summary>Seconds spent inside steps so far.</summary>
    public double TrainingSeconds => _stepTotal / 1000;

    public void StartStep()
    {
        _clock.Start();
        Mark(0);
    }

    public void ComputeDone() => Mark(1);

    public void CommunicationDone() => Mark(2);

    public void StatisticsDone() => Mark(3);

    public void OptimizerDone() => Mark(4);

    /// <summary>The step is over, with <paramref name="samples"/> samples over all ranks: its phases are read and counted.</summary>
    public void StepDone(long samples)
    {
        Mark(5);
        if (_device is not null)
            _device.Intervals(_intervals);
        else
            for (int i = 0; i + 1 < Marks; i++)
                _intervals[i] = _hostMarks[i + 1] - _hostMarks[i];
        Last = new PhaseTimes(Compute: _intervals[0], Communication: _intervals[1], Statistics: _intervals[2], Optimizer: _intervals[3], Other: _intervals[4]);
        double hostMs = _hostMarks[5] - _hostMarks[0];
        _sums += Last;
        _stepTotal += hostMs;
        _recent[_steps % SteadyWindow] = (Last, hostMs, samples);
        _steps++;
        _clock.Stop();
    }

    /// <summary>Mean milliseconds per step, by phase, over this start's steps.</summary>
    public PhaseTimes Mean() => _sums * (1.0 / Math.Max(1, _steps));

    /// <summary>The steady state of this start's steps; none before two steps.</summary>
    public SteadyState? Steady()
    {
        int count = (int)Math.Min(_steps / 2, SteadyWindow);
        if (count < 1)
            return null;
        var steps = Enumerable.Range(0, count).Select(back => _recent[(_steps - 1 - back) % SteadyWindow]).ToArray();
        double seconds = steps.Sum(step => step.HostMs) / 1000;
        return new SteadyState(count, steps.Sum(step => step.Samples) / seconds, Median(steps.Select(step => step.Ms).ToArray()),
            Median(steps.Select(step => step.Ms.Total)));
    }

    /// <summary>Each phase's own median over <paramref name="times"/> (so not one step's phases).</summary>
    internal static PhaseTimes Median(IReadOnlyList<PhaseTimes> times)
    {
        double Of(Func<PhaseTimes, double> phase) => Median(times.Select(phase));
        return new PhaseTimes(Of(p => p.Compute), Of(p => p.Communication), Of(p => p.Optimizer), Of(p => p.Statistics), Of(p => p.Other));
    }

    internal static double Median(IEnumerable<double> values)
    {
        double[] sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }

    private void Mark(int index)
    {
        _hostMarks[index] = _clock.Elapsed.TotalMilliseconds;
        _device?.Mark(index);
    }

    public void Dispose() => _device?.Dispose();
}

/// <summary>Milliseconds of one step, or a mean or median of steps, by phase.</summary>
public readonly record struct PhaseTimes(double Compute, double Communication, double Optimizer, double Statistics, double Other)
{
    public double Total => Compute + Communication + Optimizer + Statistics + Other;

    public static PhaseTimes operator +(PhaseTimes a, PhaseTimes b) =>
        new(a.Compute + b.Compute, a.Communication + b.Communication, a.Optimizer + b.Optimizer, a.Statistics + b.Statistics, a.Other + b.Other);

    public static PhaseTimes operator *(PhaseTimes a, double factor) =>
        new(a.Compute * factor, a.Communication * factor, a.Optimizer * factor, a.Statistics * factor, a.Other * factor);

    /// <summary>As summary.json writes it: compute, comm, optim, stats, other (and total where given).</summary>
    public Dictionary<string, double> ToJson(double? total = null)
    {
        var json = new Dictionary<string, double>
        {
            ["compute"] = Compute, ["comm"] = Communication, ["optim"] = Optimizer, ["stats"] = Statistics, ["other"] = Other,
        };
        if (total is { } value)
            json["total"] = value;
        return json;
    }
}

/// <summary>
/// The steady state of a run (<see cref="StepTimings"/>): over its last <paramref name="Steps"/> steps, the
/// throughput in samples per second, the median milliseconds of each phase, and the median step time.
/// </summary>
public sealed record SteadyState(int Steps, double SamplesPerSecond, PhaseTimes MedianMs, double MedianStepMs);
