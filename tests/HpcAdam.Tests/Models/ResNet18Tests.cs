using TorchSharp;
using static HpcAdam.Tests.Models.ModelBuilder;

namespace HpcAdam.Tests.Models;

/// <summary>ResNet-18's tensors are named by stage and block, and its two normalisations differ as the paper needs.</summary>
public sealed class ResNet18Tests
{
    private const string BatchNorm = "--Model:Name=resnet18 --Model:Norm=batchnorm";
    private const string LayerNorm = "--Model:Name=resnet18 --Model:Norm=layernorm";

    [TestCase(BatchNorm)]
    [TestCase(LayerNorm)]
    public void ParametersAreNamedByStageAndBlockInForwardOrder(string model)
    {
        var expected = new List<string> { "stem.conv.weight", "stem.norm.weight", "stem.norm.bias" };
        for (int stage = 1; stage <= 4; stage++)
            for (int block = 0; block < 2; block++)
            {
                string prefix = $"stage{stage}.block{block}.";
                expected.AddRange([prefix + "conv1.weight", prefix + "norm1.weight", prefix + "norm1.bias",
                                   prefix + "conv2.weight", prefix + "norm2.weight", prefix + "norm2.bias"]);
                if (stage > 1 && block == 0)
                    expected.AddRange([prefix + "shortcut.conv.weight", prefix + "shortcut.norm.weight", prefix + "shortcut.norm.bias"]);
            }
        expected.AddRange(["head.weight", "head.bias"]);

        using var network = Build(model, Cifar);
        Assert.That(ParameterNames(network), Is.EqualTo(expected));
    }

    [TestCase(BatchNorm)]
    [TestCase(LayerNorm)]
    public void EveryNormalisationStartsAsTheIdentityScaleAndShift(string model)
    {
        // TorchSharp 0.107 leaves GroupNorm's affine parameters uninitialised; the model must not.
        using var network = Build(model, Mnist);
        foreach (var (name, parameter) in network.named_parameters().Where(named => named.name.Contains("norm")))
            Assert.That(parameter.data<float>().ToArray(), Is.All.EqualTo(name.EndsWith(".weight", StringComparison.Ordinal) ? 1f : 0f), name);
    }

    [Test]
    public void BatchNormKeepsRunningStatisticsInEveryNormalisation()
    {
        using var network = Build(BatchNorm, Mnist);
        string[] buffers = network.named_buffers().Select(named => named.name).ToArray();
        // The stem, two per block in eight blocks, and three shortcuts: 20 batch norms.
        Assert.That(buffers, Has.Length.EqualTo(20 * 3));
        Assert.That(buffers, Has.Exactly(20).EndsWith(".running_mean"));
        Assert.That(buffers, Has.Exactly(20).EndsWith(".running_var"));
        Assert.That(buffers, Has.Exactly(20).EndsWith(".num_batches_tracked"));
        Assert.That(buffers, Does.Contain("stage2.block0.shortcut.norm.running_mean"));
    }

    [Test]
    public void LayerNormKeepsNoStatisticsAndASamplesOutputIgnoresTheRestOfItsBatch()
    {
        using var scope = torch.NewDisposeScope();
        var network = Build(LayerNorm, Mnist);
        Assert.That(network.named_buffers(), Is.Empty);

        var images = Images(2, Mnist);
        var together = network.call(images)[0];
        var alone = network.call(images.narrow(0, 0, 1))[0];
        Assert.That(torch.allclose(together, alone, rtol: 1e-4, atol: 1e-5), Is.True);
    }
}
