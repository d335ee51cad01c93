using System.Text.Json;
using HpcAdam.Trainer.Bench;

namespace HpcAdam.Tests;

/// <summary>`hpcadam bench optimizer` as a real process: its JSON, its argument checks, and the ResNet-18 shapes it times Adam over.</summary>
public sealed class OptimizerBenchTests() : TemporaryDirectoryTest("hpcadam-bench-optimizer-")
{
    [Test]
    public void WritesOneObjectWithTheFourTimings()
    {
        string json = Path.Combine(TestDirectory, "optimizer.json");
        ProcessOutcome outcome = ChildProcess.RunAlone(["bench", "optimizer", "--params", "100000", "--iters", "2", "--warmup", "1", "--json", json]);

        Assert.That(outcome.ExitCode, Is.Zero, outcome.ToString());
        Assert.That(outcome.Stdout, Does.Contain("median of 2 timed step(s)"));
        Assert.That(outcome.Stdout, Does.Match(@"BSI-Adam >= 2x faster than TorchSharp Adam: (PASS|MISS)"));
        Assert.That(outcome.Stdout, Does.Match(@"BSI-Adam within 2x of the triad: (PASS|MISS)"));
        JsonElement result = JsonDocument.Parse(File.ReadAllText(json)).RootElement;
        Assert.That(result.EnumerateObject().Select(p => p.Name), Is.EqualTo(new[] { "params", "bsi_adam_ms", "torchsharp_adam_ms", "triad_ms" }));
        Assert.That(result.GetProperty("params").GetInt64(), Is.EqualTo(100_000));
        foreach (string key in new[] { "bsi_adam_ms", "torchsharp_adam_ms", "triad_ms" })
            Assert.That(result.GetProperty(key).GetDouble(), Is.Positive, key);
    }

    [TestCase("--params", "0")]
    [TestCase("--params", "536870912")]
    [TestCase("--params", "many")]
    [TestCase("--iters", "0")]
    [TestCase("--warmup", "-1")]
    public void BadArgumentsAreOneLineAndWriteNothing(string option, string value)
    {
        ProcessOutcome outcome = ChildProcess.RunAlone(["bench", "optimizer", option, value, "--json", Path.Combine(TestDirectory, "optimizer.json")]);

        outcome.AssertOneLineUsageError(option);
        Assert.That(Directory.GetFiles(TestDirectory), Is.Empty);
    }

    [Test]
    public void JsonIntoAMissingFolderIsRefusedBeforeAnythingRuns()
    {
        string missing = Path.Combine(TestDirectory, "missing", "optimizer.json");
        ProcessOutcome outcome = ChildProcess.RunAlone(["bench", "optimizer", "--json", missing]);

        outcome.AssertOneLineUsageError("--json");
        Assert.That(outcome.Stdout, Is.Empty, "nothing may be timed before the output's folder is known to exist");
    }

    [Test]
    public void TheDefaultIsResNet18Itself()
    {
        List<long[]> shapes = ResNet18Shapes.ForParameterCount(ResNet18Shapes.ParameterCount);

        Assert.That(shapes, Has.Count.EqualTo(62));
        Assert.That(shapes.Sum(ResNet18Shapes.ElementCount), Is.EqualTo(11_689_512));
        Assert.That(shapes[0], Is.EqualTo(new long[] { 64, 3, 7, 7 }));
        Assert.That(shapes[^2..], Is.EqualTo(new[] { new long[] { 1000, 512 }, [1000] }));
    }

    [TestCase(1)]
    [TestCase(1000)]
    [TestCase(100_000)]
    [TestCase(11_689_511)]
    [TestCase(20_000_000)]
    public void OtherCountsAreMetExactly(long parameterCount)
    {
        List<long[]> shapes = ResNet18Shapes.ForParameterCount(parameterCount);

        Assert.That(shapes.Sum(ResNet18Shapes.ElementCount), Is.EqualTo(parameterCount));
        Assert.That(shapes.All(shape => ResNet18Shapes.ElementCount(shape) > 0), Is.True);
    }
}
