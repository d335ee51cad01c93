namespace HpcAdam.Tests.Training;

/// <summary>
/// Each of the paper's models, with each normalisation it has, trains on 2 ranks (on the
/// generated synthetic set, so no download is needed) and saves its tensors by name. Whether its
/// buffers agree and are right is BufferAgreementTests' part.
/// </summary>
[TestFixture]
public sealed class ModelTrainingTests() : TemporaryDirectoryTest("hpcadam-models-")
{
    [TestCase("cnn", "", "conv1.weight", "hidden.bias")]
    [TestCase("resnet18", "batchnorm", "stage4.block1.norm2.running_var", "stem.conv.weight")]
    [TestCase("resnet18", "layernorm", "stage1.block0.norm1.weight", "head.bias")]
    [TestCase("vit", "", "blocks.0.attention.query_norm.weight", "position_embedding")]
    public void TrainsOnTwoRanksAndSavesItsTensorsByName(string model, string norm, string oneName, string anotherName)
    {
        string run = Path.Combine(TestDirectory, "run");
        string[] normalisation = norm.Length > 0 ? [$"--Model:Norm={norm}"] : [];
        ProcessOutcome outcome = ChildProcess.MpiRun(2, ChildProcess.Hpcadam,
            ["train", "--Data:Name=synthetic", $"--Model:Name={model}", .. normalisation, $"--Run:Dir={run}",
             "--Train:Steps=3", "--Batch:MicroBatchSize=4", "--Batch:Kappa=2", "--Eval:Samples=20"]);
        Assert.That(outcome.ExitCode, Is.Zero, outcome.ToString());
        var files = new RunFiles(run);
        Assert.That(files.Tensors("checkpoints/00000003/model.safetensors").Keys, Does.Contain(oneName).And.Contain(anotherName));
        Assert.That(files.Metrics("step").All(line => line.GetProperty("loss").ValueKind == System.Text.Json.JsonValueKind.Number), Is.True);
    }
}
