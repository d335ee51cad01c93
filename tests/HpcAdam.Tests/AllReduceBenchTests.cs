using System.Text.Json;

namespace HpcAdam.Tests;

/// <summary>The bench's table and JSON, from the C# path and from the C reference, under mpirun -np 2.</summary>
public sealed class AllReduceBenchTests() : TemporaryDirectoryTest("hpcadam-bench-")
{
    private static readonly string[] s_keys = ["bytes", "count", "time_us", "algbw_gbs", "busbw_gbs", "wrong"];
    private static readonly string s_reference = Path.Combine(ChildProcess.RepoRoot, "artifacts", "native", "allreduce_bench");

    [Test]
    public void BothBenchmarksWriteTheSameRowsWithExactSums()
    {
        string csharpJson = Path.Combine(TestDirectory, "csharp.json");
        string referenceJson = Path.Combine(TestDirectory, "c.json");
        string[] sizes = ["--max-bytes", "2M", "--warmup", "1", "--iters", "3"];

        ProcessOutcome reference = ChildProcess.MpiRun(2, s_reference, [.. sizes, "--json", referenceJson]);
        ProcessOutcome csharp = ChildProcess.MpiRun(2, ChildProcess.Hpcadam, ["bench", "allreduce", .. sizes, "--json", csharpJson]);
        ProcessOutcome comparison = ChildProcess.RunAlone(["bench", "compare", "--reference", referenceJson, "--candidate", csharpJson]);

        Assert.That(reference.ExitCode, Is.Zero, reference.ToString());
        Assert.That(csharp.ExitCode, Is.Zero, csharp.ToString());
        Assert.That(comparison.ExitCode, Is.Zero, comparison.ToString());
        // One line per size, then the verdict on the two sizes of 1M and more.
        Assert.That(comparison.Stdout, Does.Contain("\n      2097152 "));
        Assert.That(comparison.Stdout, Does.Match(@"sizes >= 1M: min ratio \d+\.\d{3} \(at (1M|2M)\)"));
        foreach (string file in new[] { csharpJson, referenceJson })
        {
            JsonElement[] rows = JsonDocument.Parse(File.ReadAllText(file)).RootElement.EnumerateArray().ToArray();
            Assert.That(rows.Select(r => r.GetProperty("bytes").GetInt64()), Is.EqualTo(Enumerable.Range(0, 20).Select(i => 4L << i)), file);
            foreach (JsonElement row in rows)
            {
                Assert.That(row.EnumerateObject().Select(p => p.Name), Is.EqualTo(s_keys), file);
                Assert.That(row.GetProperty("count").GetInt64(), Is.EqualTo(row.GetProperty("bytes").GetInt64() / 4));
                Assert.That(row.GetProperty("wrong").GetInt64(), Is.Zero);
                Assert.That(row.GetProperty("time_us").GetDouble(), Is.Positive);
                // With 2 ranks busbw = algbw · 2(n−1)/n = algbw.
                Assert.That(row.GetProperty("busbw_gbs").GetDouble(), Is.EqualTo(row.GetProperty("algbw_gbs").GetDouble()).Within(1e-9));
            }
        }
    }

    [TestCase("--max-bytes", "3")]
    [TestCase("--min-bytes", "6")]
    [TestCase("--iters", "0")]
    [TestCase("--max-bytes", "lots")]
    public void BadArgumentsAreOneLineAndWriteNothing(string option, string value)
    {
        string json = Path.Combine(TestDirectory, "rows.json");
        ProcessOutcome outcome = ChildProcess.RunAlone(["bench", "allreduce", option, value, "--json", json]);

        Assert.That(outcome.ExitCode, Is.EqualTo(2), outcome.ToString());
        Assert.That(outcome.Stderr.TrimEnd().Split('\n'), Has.Length.EqualTo(1), outcome.ToString());
        Assert.That(outcome.Stderr, Does.Contain(option));
        Assert.That(Directory.GetFiles(TestDirectory), Is.Empty);
    }
}
