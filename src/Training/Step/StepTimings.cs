using System.Diagnostics;

namespace HpcAdam.Training;

/// <summary>
/// Where each step's time goes: compute (gather, forward, backward, S1/S2 accumulation),
/// communication (the one all-reduce), optimizer, statistics (gradient statistics, noise scale,
/// the batch-size test) and other (metrics, progress).
/// Evaluation and checkpoints fall between steps and are not counted, so throughput is of
/// training alone.
/// </summary>
internal sealed class StepTimings
{
    private readonly Stopwatch _clock = new(), _wall = Stopwatch.StartNew();
    private double _stepStart, _computeEnd, _communicationEnd, _optimizerEnd;
    private double _computeTotal, _communicationTotal, _optimizerTotal, _statisticsTotal, _stepTotal;
    private long _steps;

    public (double ComputeMs, double CommunicationMs, double OptimizerMs, double StatisticsMs) Last { get; private set; }

    /// <summary>Seconds since the first step began to be timed, evaluation and checkpoints included.</summary>
    public double WallSeconds => _wall.Elapsed.TotalSeconds;

    /// <summary>Seconds spent inside steps so far.</summary>
    public double TrainingSeconds => _stepTotal / 1000;

    public void StartStep()
    {
        _clock.Start();
        _stepStart = Now();
    }

    public void ComputeDone() => _computeEnd = Now();

    public void CommunicationDone() => _communicationEnd = Now();

    public void OptimizerDone()
    {
        _optimizerEnd = Now();
        Last = (_computeEnd - _stepStart, _communicationEnd - _computeEnd, _optimizerEnd - _communicationEnd, 0);
    }

    public void StatisticsDone() => Last = Last with { StatisticsMs = Now() - _optimizerEnd };

    public void StepDone()
    {
        _computeTotal += Last.ComputeMs;
        _communicationTotal += Last.CommunicationMs;
        _optimizerTotal += Last.OptimizerMs;
        _statisticsTotal += Last.StatisticsMs;
        _stepTotal += Now() - _stepStart;
        _steps++;
        _clock.Stop();
    }

    /// <summary>Mean milliseconds per step, by part.</summary>
    public object MeanBreakdown()
    {
        double steps = Math.Max(1, _steps);
        return new
        {
            compute = _computeTotal / steps,
            comm = _communicationTotal / steps,
            optim = _optimizerTotal / steps,
            stats = _statisticsTotal / steps,
            other = (_stepTotal - _computeTotal - _communicationTotal - _optimizerTotal - _statisticsTotal) / steps,
        };
    }

    private double Now() => _clock.Elapsed.TotalMilliseconds;
}
