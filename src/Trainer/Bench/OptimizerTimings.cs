using System.Globalization;
using System.Text.Json;

namespace HpcAdam.Trainer.Bench;

/// <summary>
/// One run of `hpcadam bench optimizer`: the time of one step of each contender over the same
/// parameter count, and the two goals BSI-Adam is held to. The JSON has exactly these four keys.
/// </summary>
internal sealed record OptimizerTimings(long Params, double BsiAdamMs, double TorchsharpAdamMs, double TriadMs)
{
    /// <summary>What the fused BSI-Adam pass moves per parameter: reads S1, S2, w, m, v and writes w, m, v.</summary>
    public const int BsiAdamBytesPerParameter = 8 * sizeof(float);

    private const double FasterThanTorchSharpGoal = 2.0;
    private const double WithinTriadGoal = 2.0;

    public double Speedup => TorchsharpAdamMs / BsiAdamMs;

    public double TriadRatio => BsiAdamMs / TriadMs;

    public double BsiAdamGbs => (double)BsiAdamBytesPerParameter * Params / (BsiAdamMs * 1e6);

    public string ToJson() => JsonSerializer.Serialize(new { Params, BsiAdamMs, TorchsharpAdamMs, TriadMs }, BenchJson.Options);

    public const string Header =
        "#      params  bsi_adam_ms  torchsharp_adam_ms  triad_ms  speedup  bsi/triad  bsi_adam\n" +
        "#                    (ms)                (ms)      (ms)  (ts/bsi)             (GB/s)";

    public string Format() =>
        string.Format(CultureInfo.InvariantCulture, "{0,13} {1,12:F3} {2,19:F3} {3,9:F3} {4,8:F2} {5,10:F2} {6,9:F2}",
            Params, BsiAdamMs, TorchsharpAdamMs, TriadMs, Speedup, TriadRatio, BsiAdamGbs);

    public IEnumerable<string> Goals()
    {
        yield return string.Format(CultureInfo.InvariantCulture, "# BSI-Adam >= {0}x faster than TorchSharp Adam: {1} ({2:F2}x)",
            FasterThanTorchSharpGoal, Verdict(Speedup >= FasterThanTorchSharpGoal), Speedup);
        yield return string.Format(CultureInfo.InvariantCulture, "# BSI-Adam within {0}x of the triad: {1} ({2:F2}x the triad's time)",
            WithinTriadGoal, Verdict(TriadRatio <= WithinTriadGoal), TriadRatio);
    }

    private static string Verdict(bool met) => met ? "PASS" : "MISS";
}
