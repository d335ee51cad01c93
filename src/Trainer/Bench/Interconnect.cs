namespace HpcAdam.Trainer.Bench;

/// <summary>
/// A network in the α–β model of a ring all-reduce (docs/running.md, "The cost model"): each of the
/// ring's 2(P−1) steps costs the latency α, and each rank sends 2(P−1)/P of the buffer at β bytes
/// per second in each direction, so
/// <code>time(P, bytes) = 2(P−1)·α + 2(P−1)/P · bytes/β</code>
/// and none on one rank. busbw, as nccl-tests and `hpcadam bench allreduce` print it, tends to β for
/// large messages. <paramref name="Source"/> says where α and β come from.
/// </summary>
internal sealed record Interconnect(string Name, double AlphaSeconds, double BetaBytesPerSecond, string Source)
{
    public double AllReduceSeconds(int ranks, double bytes) =>
        ranks == 1 ? 0 : 2.0 * (ranks - 1) * AlphaSeconds + 2.0 * (ranks - 1) / ranks * bytes / BetaBytesPerSecond;

    public double AlphaMicroseconds => AlphaSeconds * 1e6;

    public double BetaGbs => BetaBytesPerSecond / 1e9;

    /// <summary>
    /// The presets of `hpcadam bench scaling --predict --preset NAME`. β is each network's line rate
    /// per direction from its vendor's specification, an upper bound: nccl-tests reach about 80% of it
    /// (docs/running.md has the sources). α is no vendor figure but an assumption of the order of an
    /// MPI or NCCL point-to-point latency on that network; it matters for small buffers and many ranks.
    /// </summary>
    public static readonly Interconnect[] Presets =
    [
        new("node", 0.25e-6, 5.5e9, "fitted to hpcadam bench allreduce at 2 ranks on this project's 2-core machine (Open MPI 4.1, shared memory), 2026-12-04"),
        new("ib-100", 2e-6, 12.5e9, "InfiniBand HDR100, 100 Gb/s per direction (NVIDIA ConnectX-6 adapter cards); alpha assumed"),
        new("ib-400", 2e-6, 50e9, "InfiniBand NDR, 400 Gb/s per direction (NVIDIA ConnectX-7 adapter cards); alpha assumed"),
        new("nvlink4", 1e-6, 450e9, "NVLink 4 of H100/H200 SXM, 900 GB/s both ways, 450 per direction (NVIDIA H100 and H200 datasheets); alpha assumed"),
    ];

    public static string PresetNames => string.Join(", ", Presets.Select(preset => preset.Name));

    public static Interconnect? Preset(string name) => Presets.FirstOrDefault(preset => preset.Name == name);
}
