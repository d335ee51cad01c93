namespace HpcAdam.Optim.Cuda;

/// <summary>
/// Whether this process may use the fused GPU kernels: not where HPCADAM_FUSED_GPU=0 asks for the
/// tensor operations (to compare the two in a benchmark), nor where NVRTC or the CUDA driver
/// cannot be loaded. Decided once, at the first float32 GPU buffer, and a "no" said once on
/// stderr, so that a user sees the slower path is in use and why.
/// </summary>
internal sealed class FusedGpuAvailability(Func<string?> whyUnavailable, Action<string> say)
{
    public const string Variable = "HPCADAM_FUSED_GPU";

    public static readonly FusedGpuAvailability Process = new(WhyUnavailable, line => Console.Error.WriteLine(line));

    private readonly Lazy<bool> _available = new(() =>
    {
        string? why = whyUnavailable();
        if (why is not null)
            say($"HpcAdam.Optim: the GPU optimizer step and micro-batch accumulation run as tensor operations, slower than the fused kernels: {why}");
        return why is null;
    });

    public bool IsAvailable => _available.Value;

    /// <summary>Null when the kernels can be built here; otherwise why not.</summary>
    internal static string? WhyUnavailable() => Environment.GetEnvironmentVariable(Variable) == "0"
        ? $"{Variable}=0 is set"
        : CudaLibraries.WhyNotLoadable();
}
