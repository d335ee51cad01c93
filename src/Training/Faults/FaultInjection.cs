using System.Diagnostics;
using System.Globalization;

namespace HpcAdam.Training;

/// <summary>
/// Faults on purpose, so the tests (and a user doubting their cluster) can watch the job handle
/// them with real processes: <c>HPCADAM_FAULT=KIND@RANK:STEP[,...]</c>, where KIND is
/// <c>nonfinite</c> (a NaN in that rank's gradient), <c>nanloss</c> (a NaN in that rank's loss,
/// its gradient finite), <c>desync</c> (that rank's weights drift), <c>throw</c> (that rank fails),
/// <c>kill</c> (that rank dies by SIGKILL), <c>stall</c> (that rank never reaches the all-reduce),
/// <c>sigusr1</c> (that rank alone receives SIGUSR1) or <c>wait</c> (that rank waits at the start
/// of the step until it receives SIGTERM or SIGUSR1, so a test's signal lands at a known step).
/// </summary>
internal sealed class FaultInjection
{
    public const string Variable = "HPCADAM_FAULT";
    private static readonly string[] s_kinds = ["nonfinite", "nanloss", "desync", "throw", "kill", "stall", "sigusr1", "wait"];
    private static readonly TimeSpan s_signalWait = TimeSpan.FromMinutes(5);

    private readonly HashSet<(string Kind, long Step)> _faults;

    private FaultInjection(HashSet<(string, long)> faults) => _faults = faults;

    /// <summary>Why HPCADAM_FAULT cannot be read, as one line for the user; null when it is unset or well-formed.</summary>
    public static string? Problem() => Parse(rank: -1).Problem;

    /// <summary>The faults the environment asks this rank to suffer (checked by <see cref="Problem"/> before the job starts).</summary>
    public static FaultInjection FromEnvironment(int rank) =>
        new(Parse(rank).Faults ?? throw new InvalidOperationException(Problem()));

    private bool At(string kind, long step) => _faults.Contains((kind, step));

    /// <summary>The faults that end, freeze or hold this process at the start of a step.</summary>
    public void BeforeStep(long step, StopSignals signals)
    {
        if (At("throw", step))
            throw new InvalidOperationException($"fault injected by {Variable} at step {step}");
        if (At("kill", step))
            Process.GetCurrentProcess().Kill();
        if (At("sigusr1", step))
        {
            Process.Start("kill", ["-USR1", Environment.ProcessId.ToString(CultureInfo.InvariantCulture)])!.WaitForExit();
            // Handled before this step's all-reduce, so the stop comes after exactly this step.
            if (!signals.WaitForRequest(TimeSpan.FromSeconds(30)))
                throw new InvalidOperationException($"fault injected by {Variable}: SIGUSR1 was not handled within 30 s");
        }
        if (At("wait", step) && !signals.WaitForRequest(s_signalWait))
            throw new InvalidOperationException($"fault injected by {Variable}: no SIGTERM or SIGUSR1 came within {s_signalWait.TotalMinutes} minutes at step {step}");
        if (At("stall", step))
            Thread.Sleep(Timeout.Infinite);
    }

    /// <summary>The faults in what this rank adds to the step's sums, after its micro-batches.</summary>
    public void AfterMicroBatches(long step, StepBuffer buffer)
    {
        if (At("nonfinite", step))
            buffer.Poison(lossOnly: false);
        if (At("nanloss", step))
            buffer.Poison(lossOnly: true);
    }

    /// <summary>The fault in this rank's weights after the optimizer: a replica out of step with the others, for Check:Every to catch.</summary>
    public void AfterOptimizer(long step, FlatParameters parameters)
    {
        if (At("desync", step))
            parameters.Weights[0].add_(1e-3f);
    }

    private static (HashSet<(string, long)>? Faults, string? Problem) Parse(int rank)
    {
        var faults = new HashSet<(string, long)>();
        string text = Environment.GetEnvironmentVariable(Variable) ?? "";
        foreach (string fault in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            string[] parts = fault.Split('@', ':');
            if (parts.Length != 3 || !s_kinds.Contains(parts[0]) || !int.TryParse(parts[1], CultureInfo.InvariantCulture, out int faultRank)
                || !long.TryParse(parts[2], CultureInfo.InvariantCulture, out long step))
                return (null, $"{Variable} = '{text}': '{fault}' is not KIND@RANK:STEP with KIND one of {string.Join(", ", s_kinds)}");
            if (faultRank == rank)
                faults.Add((parts[0], step));
        }
        return (faults, null);
    }
}
