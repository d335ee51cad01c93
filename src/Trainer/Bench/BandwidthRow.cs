using System.Globalization;
using System.Text.Json;

namespace HpcAdam.Trainer.Bench;

/// <summary>
/// One message size of an all-reduce benchmark, in nccl-tests' terms: algbw = bytes / time;
/// busbw = algbw · 2(n−1)/n, the bandwidth each link must carry in a ring, comparable across
/// world sizes. The JSON keys are shared with the C reference (native/bench).
/// </summary>
internal sealed record BandwidthRow(long Bytes, long Count, double TimeUs, double AlgbwGbs, double BusbwGbs, long Wrong)
{
    public static BandwidthRow FromTime(long bytes, int elementSize, double seconds, int worldSize, long wrong)
    {
        double algbw = bytes / seconds / 1e9;
        double busbw = algbw * 2.0 * (worldSize - 1) / worldSize;
        return new BandwidthRow(bytes, bytes / elementSize, seconds * 1e6, algbw, busbw, wrong);
    }

    public static string ToJson(IReadOnlyList<BandwidthRow> rows) => JsonSerializer.Serialize(rows, BenchJson.Options);

    public static List<BandwidthRow> FromJson(string json) =>
        JsonSerializer.Deserialize<List<BandwidthRow>>(json, BenchJson.Options) ?? [];

    public const string Header =
        "#        size         count    type      time     algbw     busbw  #wrong\n" +
        "#         (B)    (elements)              (us)    (GB/s)    (GB/s)        ";

    public string Format() =>
        string.Format(CultureInfo.InvariantCulture, "{0,13} {1,13} {2,7} {3,9:F2} {4,9:F3} {5,9:F3} {6,7}",
            Bytes, Count, "float", TimeUs, AlgbwGbs, BusbwGbs, Wrong);
}
