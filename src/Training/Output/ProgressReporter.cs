using System.Diagnostics;
using System.Globalization;
using HpcAdam.Collectives;

namespace HpcAdam.Training;

/// <summary>
/// Rank 0's view of a run in progress: a bar redrawn in place on a terminal, otherwise a plain
/// line every tenth of the run (or every 30 s), which reads well in a Slurm log. Under mpirun or
/// srun stdout is never treated as a terminal: Open MPI hands ranks a pseudo-terminal even when
/// the job's output goes to a file.
/// </summary>
internal sealed class ProgressReporter(long? totalSteps, TextWriter output)
{
    private const int BarWidth = 30;
    private static readonly TimeSpan s_redrawEvery = TimeSpan.FromMilliseconds(200), s_lineEvery = TimeSpan.FromSeconds(30);

    private readonly bool _terminal = !Console.IsOutputRedirected && !LaunchEnvironment.Detect().IsLaunched;
    private readonly Stopwatch _sinceLast = Stopwatch.StartNew();
    private long _nextTenth = 1;

    /// <summary>
    /// After step <paramref name="step"/>, with <paramref name="done"/> of the run (0 to 1) behind it.
    /// <paramref name="totalSteps"/> is null when the run's length is a sample budget and κ may grow.
    /// </summary>
    public void Report(long step, double done, bool last, double loss, double samplesPerSecond, double secondsLeft, string memory)
    {
        string numbers = string.Create(CultureInfo.InvariantCulture,
            $"step {step}{(totalSteps is { } total ? $"/{total}" : $" ({100 * done:0}%)")}  loss {loss:0.0000}  {samplesPerSecond:0} samples/s  {memory}  {(last ? "" : $"eta {TimeSpan.FromSeconds(Math.Round(secondsLeft)):c}")}");
        if (_terminal)
        {
            if (!last && _sinceLast.Elapsed < s_redrawEvery)
                return;
            int filled = (int)Math.Clamp(BarWidth * done, 0, BarWidth);
            output.Write($"\r[{new string('#', filled)}{new string('.', BarWidth - filled)}] {numbers}\u001b[K");
            if (last)
                output.WriteLine();
        }
        else
        {
            // The tolerance keeps a fraction like 300/1000 from rounding below its tenth.
            bool tenth = done * 10 >= _nextTenth - 1e-9;
            if (!tenth && !last && _sinceLast.Elapsed < s_lineEvery)
                return;
            while (done * 10 >= _nextTenth - 1e-9)
                _nextTenth++;
            output.WriteLine($"# {numbers.TrimEnd()}");
        }
        output.Flush();
        _sinceLast.Restart();
    }

    /// <summary>A line that must not be drawn over (an evaluation, a checkpoint).</summary>
    public void Note(string line)
    {
        if (_terminal)
            output.Write("\r\u001b[K");
        output.WriteLine($"# {line}");
        output.Flush();
    }
}
