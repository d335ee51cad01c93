using TorchSharp;
using static HpcAdam.Tests.Models.ModelBuilder;

namespace HpcAdam.Tests.Models;

/// <summary>The ViT's tensors are named block by block, and each block's attention normalises its queries and keys.</summary>
public sealed class VisionTransformerTests
{
    private const string TwoBlocks = "--Model:Name=vit --Model:Depth=2 --Model:Width=64 --Model:Heads=4";
    private const int Width = 64, HeadWidth = 16;

    [Test]
    public void ParametersAreNamedBlockByBlock()
    {
        var expected = new List<string> { "position_embedding", "patch_embedding.weight", "patch_embedding.bias" };
        for (int block = 0; block < 2; block++)
            foreach (string layer in new[] { "norm1", "attention.qkv", "attention.query_norm", "attention.key_norm", "attention.out", "norm2", "mlp.fc1", "mlp.fc2" })
                expected.AddRange([$"blocks.{block}.{layer}.weight", $"blocks.{block}.{layer}.bias"]);
        expected.AddRange(["norm.weight", "norm.bias", "head.weight", "head.bias"]);

        using var network = Build(TwoBlocks, Mnist);
        Assert.That(ParameterNames(network), Is.EqualTo(expected));
    }

    [Test]
    public void EachBlockHasAQueryAndAKeyLayerNormOverTheHeadWidth()
    {
        using var network = Build(TwoBlocks, Cifar);
        var parameters = network.named_parameters().ToDictionary(named => named.name, named => named.parameter);
        foreach (string norm in new[] { "query_norm", "key_norm" })
            for (int block = 0; block < 2; block++)
            {
                Assert.That(parameters[$"blocks.{block}.attention.{norm}.weight"].shape, Is.EqualTo(new long[] { HeadWidth }));
                Assert.That(parameters[$"blocks.{block}.attention.{norm}.bias"].shape, Is.EqualTo(new long[] { HeadWidth }));
            }
        // 8×8 patches of 4×4.
        Assert.That(parameters["position_embedding"].shape, Is.EqualTo(new long[] { 1, 64, Width }));
    }

    [Test]
    public void ScalingQueriesAndKeysChangesNothingButScalingTheirNormsDoes()
    {
        // Without QK-layernorm, queries and keys 7 times larger would make every logit 49 times larger.
        using var scope = torch.NewDisposeScope();
        var network = Build(TwoBlocks, Mnist);
        var parameters = network.named_parameters().ToDictionary(named => named.name, named => named.parameter);
        var images = Images(3, Mnist);
        var before = network.call(images);

        using (torch.no_grad())
            foreach (string tensor in new[] { "weight", "bias" })
                parameters[$"blocks.0.attention.qkv.{tensor}"].narrow(0, 0, 2 * Width).mul_(7);
        var scaled = network.call(images);
        Assert.That(torch.allclose(scaled, before, rtol: 1e-4, atol: 1e-5), Is.True);

        using (torch.no_grad())
            parameters["blocks.0.attention.query_norm.weight"].mul_(7);
        var sharper = network.call(images);
        Assert.That(torch.allclose(sharper, before, rtol: 1e-2, atol: 1e-3), Is.False);
    }
}
