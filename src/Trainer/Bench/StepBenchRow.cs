using System.Globalization;

namespace HpcAdam.Trainer.Bench;

/// <summary>A batch of `hpcadam bench step`: micro-batch size M and κ micro-batches per step, written MxK.</summary>
internal readonly record struct StepConfig(int MicroBatchSize, int Kappa)
{
    public override string ToString() => $"{MicroBatchSize}x{Kappa}";
}

/// <summary>One case of `hpcadam bench step`: a model at one batch in one precision.</summary>
internal sealed record StepBenchCase(string Model, StepConfig Config, string Precision)
{
    public int SamplesPerStep => Config.MicroBatchSize * Config.Kappa;
}

/// <summary>
/// One peer's steady state in a case: median milliseconds by phase and of the whole step (not the
/// sum of the phases' medians), its model's parameter count, and how it ran its optimizer.
/// </summary>
internal sealed record PeerTiming(PhaseTimes MedianMs, double MedianStepMs, long Parameters, string Optimizer);

/// <summary>What one peer made of a case: its timing, or the one-line reason it has none.</summary>
internal sealed record PeerOutcome(PeerTiming? Timing, string? Refusal)
{
    public static PeerOutcome Timed(PeerTiming timing) => new(timing, null);

    public static PeerOutcome Refused(string reason) => new(null, reason);
}

/// <summary>
/// Both peers on one case, and the table and JSON of `hpcadam bench step`. The ratio is PyTorch's
/// median step time over HpcAdam's: at least 1 means HpcAdam is at least as fast. Two models with
/// different parameter counts are not the same model, so such a row gets no ratio.
/// </summary>
internal sealed record StepBenchRow(StepBenchCase Case, PeerOutcome HpcAdam, PeerOutcome PyTorch)
{
    /// <summary>The fused BSI-Adam pass reads w, m, v, S1, S2 and writes w, m, v.</summary>
    public const int BsiAdamBytesPerParameter = OptimizerTimings.BsiAdamBytesPerParameter;

    /// <summary>PyTorch's Adam reads w, g, m, v and writes w, m, v.</summary>
    public const int AdamBytesPerParameter = 7 * sizeof(float);

    public const string Header =
        "# model     MxK      precision  peer      compute     comm    optim    stats    other    total  samples/s  pytorch/hpcadam\n" +
        "#                                           (ms)     (ms)     (ms)     (ms)     (ms)     (ms)";

    /// <summary>The line a peer's case prints as soon as it is done, before the table.</summary>
    public static string Progress(string peer, StepBenchCase benchCase, PeerOutcome outcome) => string.Create(CultureInfo.InvariantCulture,
        $"# {peer} {benchCase.Model} {benchCase.Config} {benchCase.Precision}: {(outcome.Timing is { } timing ? $"{timing.MedianStepMs:F2} ms/step" : $"n/a: {outcome.Refusal}")}");

    /// <summary>Why the two peers cannot be compared, or null when they can.</summary>
    public string? Mismatch =>
        HpcAdam.Timing is { } ours && PyTorch.Timing is { } theirs && ours.Parameters != theirs.Parameters
            ? $"not the same model: PyTorch's {Case.Model} has {theirs.Parameters} parameters, HpcAdam's {ours.Parameters}"
            : null;

    public double? Ratio => HpcAdam.Timing is { } ours && PyTorch.Timing is { } theirs && Mismatch is null
        ? theirs.MedianStepMs / ours.MedianStepMs
        : null;

    public IEnumerable<string> Format()
    {
        string lead = string.Format(CultureInfo.InvariantCulture, "  {0,-9} {1,-8} {2,-10}", Case.Model, Case.Config, Case.Precision);
        yield return lead + FormatPeer("hpcadam", HpcAdam, hasPhases: true);
        string pytorch = lead + FormatPeer("pytorch", PyTorch, hasPhases: false);
        if (Mismatch is { } mismatch)
            pytorch += $"  n/a: {mismatch}";
        else if (Ratio is { } ratio)
            pytorch += string.Format(CultureInfo.InvariantCulture, " {0,16:F2}", ratio);
        yield return pytorch;
    }

    /// <summary>
    /// A single process has no all-reduce and PyTorch's loop no statistics phase: its comm and stats are
    /// "-", and its other is zero_grad.
    /// </summary>
    private string FormatPeer(string name, PeerOutcome outcome, bool hasPhases)
    {
        if (outcome.Timing is not { } timing)
            return $" {name,-7}   n/a: {outcome.Refusal}";
        PhaseTimes ms = timing.MedianMs;
        string Phase(double value) => hasPhases ? value.ToString("F2", CultureInfo.InvariantCulture) : "-";
        return string.Format(CultureInfo.InvariantCulture, " {0,-7} {1,9:F2} {2,8} {3,8:F2} {4,8} {5,8:F2} {6,8:F2} {7,10:F0}",
            name, ms.Compute, Phase(ms.Communication), ms.Optimizer, Phase(ms.Statistics), ms.Other, timing.MedianStepMs,
            Case.SamplesPerStep * 1000 / timing.MedianStepMs);
    }

    /// <summary>
    /// HpcAdam's optimizer phase against PyTorch's Adam over the same parameters, from this row's
    /// steady state, and the bandwidth each implies; null where the row has no comparable pair.
    /// </summary>
    public OptimizerAlone? OptimizerAlone() =>
        HpcAdam.Timing is { } ours && PyTorch.Timing is { } theirs && Mismatch is null
            ? new OptimizerAlone(Case.Model, ours.Parameters, ours.MedianMs.Optimizer, theirs.MedianMs.Optimizer, theirs.Optimizer)
            : null;

    public object ToJson() => new
    {
        Case.Model, Case.Config.MicroBatchSize, Case.Config.Kappa, Case.Precision,
        Hpcadam = PeerJson(HpcAdam), Pytorch = PeerJson(PyTorch), Ratio, Mismatch,
    };

    private object PeerJson(PeerOutcome outcome) => outcome.Timing is { } timing
        ? new { timing.Parameters, timing.Optimizer, Ms = timing.MedianMs.ToJson(timing.MedianStepMs), SamplesPerSecond = Case.SamplesPerStep * 1000 / timing.MedianStepMs }
        : new { Error = outcome.Refusal };
}

/// <summary>The optimizer phase of both peers over one model's parameters, and the memory bandwidth each time implies.</summary>
internal sealed record OptimizerAlone(string Model, long Parameters, double HpcAdamMs, double PyTorchMs, string PyTorchAdam)
{
    public double HpcAdamGbs => (double)StepBenchRow.BsiAdamBytesPerParameter * Parameters / (HpcAdamMs * 1e6);

    public double PyTorchGbs => (double)StepBenchRow.AdamBytesPerParameter * Parameters / (PyTorchMs * 1e6);

    public double Ratio => PyTorchMs / HpcAdamMs;

    public string Format() => string.Format(CultureInfo.InvariantCulture,
        "# optimizer alone, {0} ({1} parameters): HpcAdam BSI-Adam {2:F3} ms ({3:F1} GB/s at {4} B/parameter), " +
        "PyTorch Adam ({5}) {6:F3} ms ({7:F1} GB/s at {8} B/parameter); pytorch/hpcadam {9:F2}",
        Model, Parameters, HpcAdamMs, HpcAdamGbs, StepBenchRow.BsiAdamBytesPerParameter, PyTorchAdam, PyTorchMs, PyTorchGbs,
        StepBenchRow.AdamBytesPerParameter, Ratio);

    public object ToJson() => new
    {
        Model, Parameters, HpcadamMs = HpcAdamMs, HpcadamGbs = HpcAdamGbs, PytorchMs = PyTorchMs, PytorchAdam = PyTorchAdam, PytorchGbs = PyTorchGbs, Ratio,
    };
}
