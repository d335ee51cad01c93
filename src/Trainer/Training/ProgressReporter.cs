using System.Diagnostics;
using System.Globalization;
using HpcAdam.Collectives;

namespace HpcAdam.Trainer.Training;

/// <summary>
/// Rank 0's view of a run in progress: a bar redrawn in place on a terminal, otherwise a plain
/// line every tenth of the run (or every 30 s), which reads well in a Slurm log. Under mpirun or
/// srun stdout is never treated as a terminal: Open MPI hands ranks a pseudo-terminal even when
/// the job's output goes to a file.
/// </summary>
internal sealed class ProgressReporter(long totalSteps, TextWriter output)
{
    private const int BarWidth = 30;
    private static readonly TimeSpan s_redrawEvery = TimeSpan.FromMilliseconds(200), s_lineEvery = TimeSpan.FromSeconds(30);

    private readonly bool _terminal = !Console.IsOutputRedirected && !LaunchEnvironment.Detect().IsLaunched;
    private readonly Stopwatch _sinceLast = Stopwatch.StartNew();
    private long _nextTenth = 1;

    public void Report(long step, double loss, double samplesPerSecond, double secondsLeft)
    {
        bool last = step == totalSteps;
        string numbers = string.Create(CultureInfo.InvariantCulture,
            $"step {step}/{totalSteps}  loss {loss:0.0000}  {samplesPerSecond:0} samples/s  {(last ? "" : $"eta {TimeSpan.FromSeconds(Math.Round(secondsLeft)):c}")}");
        if (_terminal)
        {
            if (!last && _sinceLast.Elapsed < s_redrawEvery)
                return;
            int filled = (int)(BarWidth * step / totalSteps);
            output.Write($"\r[{new string('#', filled)}{new string('.', BarWidth - filled)}] {numbers}\u001b[K");
            if (last)
                output.WriteLine();
        }
        else
        {
            bool tenth = step * 10 >= _nextTenth * totalSteps;
            if (!tenth && !last && _sinceLast.Elapsed < s_lineEvery)
                return;
            while (step * 10 >= _nextTenth * totalSteps)
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
