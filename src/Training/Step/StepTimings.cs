using System.Diagnostics;
using HpcAdam.Collectives;
using TorchSharp;
using static TorchSharp.torch;

namespace HpcAdam.Training;

/// <summary>
/// Where each step's time goes, by phase: compute (gather, forward, backward, S1/S2 accumulation),
/// communication (the all-reduce, as far as the step waits for it), statistics (gradient statistics,
/// noise scale, the batch-size test), optimizer (clipping and the update) and other (metrics,
/// progress). Evaluation and checkpoints fall between steps and are not counted, so throughput is
/// of training alone. The step enters a phase at each boundary; with buckets it goes back and forth
/// between communication, statistics and optimizer, and each phase adds up its own stretches, so the
/// communication left is what the pipeline did not hide.
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

    private readonly Stopwatch _clock = new(), _wall = Stopwatch.StartNew();
    private readonly CudaEventClock? _device;
    private readonly List<StepPhase> _stretches = [];   // the phase of each stretch of this step, in order
    private readonly List<double> _hostMarks = [];      // the host's clock at the start of each stretch, and at the step's end
    private readonly List<double> _deviceMs = [];
    private readonly (PhaseTimes Ms, double HostMs, long Samples)[] _recent = new (PhaseTimes, double, long)[SteadyWindow];
    private PhaseTimes _sums;
    private double _stepTotal;
    private long _steps;

    /// <summary>The clock of a run on <paramref name="device"/>.</summary>
    public StepTimings(Device device)
    {
        if (device.type == DeviceType.CUDA)
            _device = new CudaEventClock(device.index);
    }

    /// <summary>The last step's milliseconds by phase.</summary>
    public PhaseTimes Last { get; private set; }

    /// <summary>Seconds since the first step began to be timed, evaluation and checkpoints included.</summary>
    public double WallSeconds => _wall.Elapsed.TotalSeconds;

    /// <summary>Seconds spent inside steps so far.</summary>
    public double TrainingSeconds => _stepTotal / 1000;

    /// <summary>A step begins, in its compute phase.</summary>
    public void StartStep()
    {
        _stretches.Clear();
        _hostMarks.Clear();
        _clock.Start();
        Enter(StepPhase.Compute);
    }

    /// <summary>The step's time from now on counts for <paramref name="phase"/>.</summary>
    public void Enter(StepPhase phase)
    {
        Mark();
        _stretches.Add(phase);
    }

    /// <summary>The step is over, with <paramref name="samples"/> samples over all ranks: its phases are read and counted.</summary>
    public void StepDone(long samples)
    {
        Mark();
        var ms = new double[Enum.GetValues<StepPhase>().Length];
        if (_device is not null)
        {
            _device.Intervals(_hostMarks.Count, _deviceMs);
            for (int i = 0; i < _stretches.Count; i++)
                ms[(int)_stretches[i]] += _deviceMs[i];
        }
        else
            for (int i = 0; i < _stretches.Count; i++)
                ms[(int)_stretches[i]] += _hostMarks[i + 1] - _hostMarks[i];
        Last = new PhaseTimes(Compute: ms[(int)StepPhase.Compute], Communication: ms[(int)StepPhase.Communication], Optimizer: ms[(int)StepPhase.Optimizer],
            Statistics: ms[(int)StepPhase.Statistics], Other: ms[(int)StepPhase.Other]);
        double hostMs = _hostMarks[^1] - _hostMarks[0];
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

    private void Mark()
    {
        _device?.Mark(_hostMarks.Count);
        _hostMarks.Add(_clock.Elapsed.TotalMilliseconds);
    }

    public void Dispose() => _device?.Dispose();
}

/// <summary>The phases of a step, as <see cref="StepTimings"/> counts them.</summary>
internal enum StepPhase
{
    Compute,
    Communication,
    Statistics,
    Optimizer,
    Other,
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
