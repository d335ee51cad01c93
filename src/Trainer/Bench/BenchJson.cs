using System.Text.Json;

namespace HpcAdam.Trainer.Bench;

/// <summary>How every benchmark writes JSON: snake_case keys, as the C reference (native/bench) writes them.</summary>
internal static class BenchJson
{
    public static readonly JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
    };
}
