namespace HpcAdam.Trainer.Bench;

/// <summary>
/// α and β of an <see cref="Interconnect"/> fitted to the rows of `hpcadam bench allreduce`: each row
/// gives a time t for a message of n bytes on P ranks, and the model says
/// <code>t = a·α + b·(1/β),  a = 2(P−1),  b = 2(P−1)/P · n.</code>
/// Least squares on the relative error, Σ((a·α + b/β − t)/t)², so that the small messages, whose time
/// is almost all α, weigh as much as the large ones, whose time is almost all n/β: on the plain error
/// the largest message alone would set both. P is each row's busbw/algbw = 2(P−1)/P, so rows from
/// several world sizes fit together.
/// </summary>
internal static class AlphaBetaFit
{
    /// <summary>The fitted network, or null with the reason the rows cannot give one.</summary>
    public static Interconnect? Fit(IReadOnlyList<BandwidthRow> rows, string name, string source, out string? problem)
    {
        // The normal equations of the weighted problem, in u = a/t and v = b/t against 1.
        double uu = 0, uv = 0, vv = 0, u1 = 0, v1 = 0;
        var sizes = new HashSet<long>();
        foreach (BandwidthRow row in rows)
        {
            int ranks = Ranks(row);
            if (ranks < 2 || row.TimeUs <= 0)
                continue;
            double seconds = row.TimeUs * 1e-6;
            double u = 2.0 * (ranks - 1) / seconds, v = 2.0 * (ranks - 1) / ranks * row.Bytes / seconds;
            (uu, uv, vv, u1, v1) = (uu + u * u, uv + u * v, vv + v * v, u1 + u, v1 + v);
            sizes.Add(row.Bytes);
        }
        problem = null;
        if (sizes.Count < 2)
        {
            problem = "the all-reduce rows need at least two message sizes timed on 2 or more ranks";
            return null;
        }
        double determinant = uu * vv - uv * uv;
        double alpha = (u1 * vv - v1 * uv) / determinant, inverseBeta = (uu * v1 - uv * u1) / determinant;
        if (!(alpha > 0 && inverseBeta > 0))
        {
            problem = FormattableString.Invariant($"the all-reduce rows do not fit time = 2(P−1)·α + 2(P−1)/P · bytes/β with α and β positive (α = {alpha:g3} s, 1/β = {inverseBeta:g3} s/B)");
            return null;
        }
        return new Interconnect(name, alpha, 1 / inverseBeta, source);
    }

    /// <summary>The world size a row was timed on, from busbw/algbw = 2(P−1)/P; 1 where nothing moved.</summary>
    private static int Ranks(BandwidthRow row) =>
        row.AlgbwGbs > 0 && row.BusbwGbs > 0 ? (int)Math.Round(2 / (2 - row.BusbwGbs / row.AlgbwGbs)) : 1;
}
