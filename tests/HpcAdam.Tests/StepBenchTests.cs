using System.Text.Json;
using HpcAdam.Trainer.Bench;
using HpcAdam.Training;

namespace HpcAdam.Tests;

/// <summary>
/// `hpcadam bench step` as a real process, against the PyTorch that scripts/setup.sh --with-torch installs
/// (Debian's python3-torch): both peers' rows, the ratio, the JSON, and the one-line refusals.
/// </summary>
public sealed class StepBenchTests() : TemporaryDirectoryTest("hpcadam-bench-step-")
{
    [Test]
    public void BothPeersTrainBothModelsAndTheTableComparesThem()
    {
        string json = Path.Combine(TestDirectory, "step.json");
        // The bench's temporary folder (the embedded script, the run folders) goes under TMPDIR: it must be gone afterwards.
        string temporary = Directory.CreateDirectory(Path.Combine(TestDirectory, "tmp")).FullName;
        ProcessOutcome outcome = ChildProcess.RunAlone(
            ["bench", "step", "--models", "resnet18,vit", "--configs", "2x1", "--precisions", "float32", "--steps", "2", "--warmup", "0", "--json", json],
            new Dictionary<string, string> { ["TMPDIR"] = temporary });

        Assert.That(outcome.ExitCode, Is.Zero, outcome.ToString());
        Assert.That(outcome.Stdout, Does.Contain("pytorch/hpcadam"));
        foreach (string model in new[] { "resnet18", "vit" })
        {
            Assert.That(outcome.Stdout, Does.Match($@"\n  {model} +2x1 +float32 +hpcadam +\d+\.\d\d +\d+\.\d\d +\d+\.\d\d"), model);
            // PyTorch's row has no comm or stats phase, and ends with the ratio.
            Assert.That(outcome.Stdout, Does.Match($@"\n  {model} +2x1 +float32 +pytorch +\d+\.\d\d +- +\d+\.\d\d +- .* \d+\.\d\d\n"), model);
            Assert.That(outcome.Stdout, Does.Match($@"# optimizer alone, {model} \(\d+ parameters\): HpcAdam BSI-Adam .* GB/s .*PyTorch Adam \(torch\.optim\.Adam (fused|foreach)\)"));
        }
        Assert.That(Directory.GetFileSystemEntries(temporary), Is.Empty, "the bench leaves nothing in its temporary folder");

        JsonElement result = JsonDocument.Parse(File.ReadAllText(json)).RootElement;
        Assert.That(result.GetProperty("device").GetString(), Is.EqualTo("cpu"));
        JsonElement[] rows = result.GetProperty("rows").EnumerateArray().ToArray();
        Assert.That(rows.Select(row => row.GetProperty("model").GetString()), Is.EqualTo(new[] { "resnet18", "vit" }));
        foreach (JsonElement row in rows)
        {
            JsonElement ours = row.GetProperty("hpcadam"), theirs = row.GetProperty("pytorch");
            // The script rebuilds the trainer's models layer for layer: the same parameter count, so a ratio.
            Assert.That(theirs.GetProperty("parameters").GetInt64(), Is.EqualTo(ours.GetProperty("parameters").GetInt64()));
            Assert.That(row.GetProperty("ratio").GetDouble(), Is.Positive);
            foreach (JsonElement peer in new[] { ours, theirs })
            {
                Assert.That(peer.GetProperty("ms").GetProperty("total").GetDouble(), Is.Positive);
                Assert.That(peer.GetProperty("samples_per_second").GetDouble(), Is.Positive);
            }
        }
        Assert.That(result.GetProperty("optimizer_alone").GetArrayLength(), Is.EqualTo(2));
    }

    [TestCase("--models", "resnet50")]
    [TestCase("--configs", "256")]
    [TestCase("--configs", "0x1")]
    [TestCase("--configs", "256x-1")]
    [TestCase("--precisions", "float16")]
    [TestCase("--steps", "1")]
    [TestCase("--warmup", "-1")]
    [TestCase("--device", "tpu")]
    public void BadArgumentsAreOneLineBeforeAnythingRuns(string option, string value)
    {
        string json = Path.Combine(TestDirectory, "step.json");
        ProcessOutcome outcome = ChildProcess.RunAlone(["bench", "step", option, value, "--json", json]);

        outcome.AssertOneLineUsageError(option);
        Assert.That(outcome.Stdout, Is.Empty, "nothing may be timed with a bad argument");
        Assert.That(File.Exists(json), Is.False);
    }

    [Test]
    public void APythonWithoutTorchIsOneLineBeforeAnythingRuns()
    {
        string missing = Path.Combine(TestDirectory, "no-such-python");
        ProcessOutcome outcome = ChildProcess.RunAlone(["bench", "step", "--python", missing]);

        outcome.AssertOneLineUsageError(missing);
        Assert.That(outcome.Stderr, Does.Contain("no Python that imports torch"));
        Assert.That(outcome.Stdout, Is.Empty, "nothing may be timed without the peer to compare with");
    }

    [Test]
    public void ModelsOfDifferentSizesAreNotCompared()
    {
        var benchCase = new StepBenchCase("vit", new StepConfig(8, 2), "float32");
        var phases = new PhaseTimes(10, 0, 2, 0, 1);
        var row = new StepBenchRow(benchCase,
            PeerOutcome.Timed(new PeerTiming(phases, 13, Parameters: 1000, "bsi-adam")),
            PeerOutcome.Timed(new PeerTiming(phases, 13, Parameters: 999, "torch.optim.Adam foreach")));

        Assert.That(row.Ratio, Is.Null);
        Assert.That(row.OptimizerAlone(), Is.Null);
        Assert.That(row.Format().Last(), Does.EndWith("n/a: not the same model: PyTorch's vit has 999 parameters, HpcAdam's 1000"));
    }

    [Test]
    public void ARefusedPeerIsItsRowsReason()
    {
        var row = new StepBenchRow(new StepBenchCase("resnet18", new StepConfig(256, 1), "bfloat16"),
            PeerOutcome.Refused("unknown configuration key Train:Precision"),
            PeerOutcome.Timed(new PeerTiming(new PhaseTimes(10, 0, 2, 0, 1), 13, 1000, "torch.optim.Adam fused")));

        Assert.That(row.Ratio, Is.Null);
        Assert.That(row.Format().First(), Does.Match(@"^  resnet18 +256x1 +bfloat16 +hpcadam +n/a: unknown configuration key Train:Precision$"));
    }
}
