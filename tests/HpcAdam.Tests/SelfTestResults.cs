using HpcAdam.Optim;
using TorchSharp;

namespace HpcAdam.Tests;

/// <summary>
/// What `hpcadam selftest --write FOLDER` wrote, every rank's received buffers, checked here against values
/// worked out in this file, not by the product's own checks. The selftest's default 100,003 elements.
/// </summary>
internal static class SelfTestResults
{
    private const int Elements = 100_003;

    /// <summary>
    /// Every rank received the same bytes, and they are what the collectives must give: rank r sent (i mod 251) + r + 1,
    /// so the sum over P ranks is P·(i mod 251) + P(P+1)/2, exact in float32; the float32 view's neighbours stay 0; the
    /// broadcast carries (7i + 3) mod 256 from the last rank; the all-gather rank r's r·1000003 + i, in rank order.
    /// </summary>
    public static void RequireExact(string folder, int ranks)
    {
        byte[] rankZero = File.ReadAllBytes(Path.Combine(folder, "selftest.rank-0.safetensors"));
        for (int rank = 1; rank < ranks; rank++)
            Assert.That(File.ReadAllBytes(Path.Combine(folder, $"selftest.rank-{rank}.safetensors")), Is.EqualTo(rankZero), $"rank {rank} against rank 0");
        Dictionary<string, torch.Tensor> received;
        using (var file = new MemoryStream(rankZero))
            received = SafeTensorsFormat.Read(file).Tensors;
        double[] sums = [.. Enumerable.Range(0, Elements).Select(i => (double)ranks * (i % 251) + ranks * (ranks + 1) / 2)];
        Assert.Multiple(() =>
        {
            foreach (string sum in new[] { "all-reduce float32 span", "all-reduce float64 span", "all-reduce float64 tensor",
                                           "non-blocking all-reduce, test until done", "non-blocking all-reduce, wait" })
                Assert.That(Values(received[sum]), Is.EqualTo(sums), sum);
            Assert.That(Values(received["all-reduce float32 tensor view"]), Is.EqualTo((double[])[0, .. sums, 0]), "the view and its two neighbours");
            Assert.That(received["broadcast from the last rank"].data<long>().ToArray(),
                Is.EqualTo(Enumerable.Range(0, Elements | 1).Select(i => (long)(byte)(i * 7 + 3))));
            int block = Elements % 1000 + 17;
            Assert.That(received["all-gather in rank order"].data<long>().ToArray(),
                Is.EqualTo(Enumerable.Range(0, block * ranks).Select(i => (long)(i / block) * 1_000_003 + i % block)));
        });
        foreach (torch.Tensor tensor in received.Values)
            tensor.Dispose();
    }

    private static double[] Values(torch.Tensor tensor)
    {
        using torch.Tensor wide = tensor.to(torch.ScalarType.Float64);
        return wide.data<double>().ToArray();
    }

    /// <summary>
    /// The shim's bfloat16 sum against libtorch's rounding: on 2 ranks every element must be libtorch's
    /// (a.float() + b.float()).to(bfloat16) bit for bit, over ties (to even), ties that carry into the next
    /// binade or to infinity, subnormals, signed zeros, infinities and NaNs (a NaN as a NaN); on 3 ranks the
    /// sum in one of the orders an all-reduce may add three addends in, each partial sum so rounded; and a
    /// float32 and a bfloat16 tensor summed together, as the step sends S2 with Collectives:SquaresPrecision=bfloat16.
    /// </summary>
}
