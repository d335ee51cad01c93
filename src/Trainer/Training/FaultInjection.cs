using System.Diagnostics;
using System.Globalization;

namespace HpcAdam.Trainer.Training;

/// <summary>
/// Faults on purpose, so the tests (and a user doubting their cluster) can watch the job handle
/// them with real processes: <c>HPCADAM_FAULT=KIND@RANK:STEP[,...]</c>, where KIND is
/// <c>nonfinite</c> (a NaN in that rank's gradient), <c>desync</c> (that rank's weights drift),
/// <c>throw</c> (that rank fails), <c>kill</c> (that rank dies by SIGKILL), <c>stall</c> (that
/// rank never reaches the all-reduce) or <c>sigusr1</c> (that rank alone receives SIGUSR1).
/// </summary>
internal sealed class FaultInjection
{
    public const string Variable = "HPCADAM_FAULT";
    private static readonly string[] s_kinds = ["nonfinite", "desync", "throw", "kill", "stall", "sigusr1"];

    private readonly HashSet<(string Kind, long Step)> _faults;

    private FaultInjection(HashSet<(string, long)> faults) => _faults = faults;

    /// <summary>The faults the environment asks this rank to suffer; a malformed value is an error, never ignored.</summary>
    public static FaultInjection FromEnvironment(int rank)
    {
        var faults = new HashSet<(string, long)>();
        string text = Environment.GetEnvironmentVariable(Variable) ?? "";
        foreach (string fault in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            string[] parts = fault.Split('@', ':');
            if (parts.Length != 3 || !s_kinds.Contains(parts[0]) || !int.TryParse(parts[1], CultureInfo.InvariantCulture, out int faultRank)
                || !long.TryParse(parts[2], CultureInfo.InvariantCulture, out long step))
                throw new ArgumentException($"{Variable}: '{fault}' is not KIND@RANK:STEP with KIND one of {string.Join(", ", s_kinds)}");
            if (faultRank == rank)
                faults.Add((parts[0], step));
        }
        return new FaultInjection(faults);
    }

    public bool At(string kind, long step) => _faults.Contains((kind, step));

    /// <summary>The faults that end or freeze this process at the start of a step.</summary>
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
        if (At("stall", step))
            Thread.Sleep(Timeout.Infinite);
    }
}
