namespace HpcAdam.Tests.Training;

/// <summary>
/// Each of the paper's models trains on 2 ranks (on the embedded synthetic set, so no download is
/// needed). The run ends with a check that every rank holds the same weights and buffers, which
/// for batchnorm holds only if its running statistics were averaged across ranks.
/// </summary>
[TestFixture]
public sealed class ModelTrainingTests() : TemporaryDirectoryTest("hpcadam-models-")
{
    [TestCase("cnn", "batchnorm", "conv1.weight", "hidden.bias")]
    [TestCase("resnet18", "batchnorm", "stage4.block1.norm2.running_var", "stem.conv.weight")]
    [TestCase("resnet18", "layernorm", "stage1.block0.norm1.weight", "head.bias")]
    [TestCase("vit", "batchnorm", "blocks.0.attention.query_norm.weight", "position_embedding")]
    public void TrainsOnTwoRanksAndSavesItsTensorsByName(string model, string norm, string oneName, string anotherName)
    {
        string run = Path.Combine(TestDirectory, "run");
        ProcessOutcome outcome = ChildProcess.MpiRun(2, ChildProcess.Hpcadam,
            ["train", "--Data:Name=synthetic", $"--Model:Name={model}", $"--Model:Norm={norm}", $"--Run:Dir={run}",
             "--Train:Steps=3", "--Batch:MicroBatchSize=4", "--Batch:Kappa=2"]);
        Assert.That(outcome.ExitCode, Is.Zero, outcome.ToString());
        var files = new RunFiles(run);
        Assert.That(files.Tensors("checkpoints/00000003/model.safetensors").Keys, Does.Contain(oneName).And.Contain(anotherName));
        Assert.That(files.Metrics("step").All(line => line.GetProperty("loss").ValueKind == System.Text.Json.JsonValueKind.Number), Is.True);
    }
}
