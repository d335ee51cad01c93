using HpcAdam.Trainer.Models;
using TorchSharp;
using static HpcAdam.Tests.Models.ModelBuilder;

namespace HpcAdam.Tests.Models;

/// <summary>Every model, on MNIST's and CIFAR-10's image shapes: logits per class, gradients everywhere, the expected size, reproducible weights.</summary>
public sealed class ModelFactoryTests
{
    private static readonly string[] s_models =
    [
        "--Model:Name=mlp",
        "--Model:Name=cnn",
        "--Model:Name=resnet18 --Model:Norm=batchnorm",
        "--Model:Name=resnet18 --Model:Norm=layernorm",
        "--Model:Name=vit",
    ];

    private static IEnumerable<TestCaseData> EveryModelOnBothShapes() =>
        from model in s_models from dataSet in new[] { "mnist", "cifar10" } select new TestCaseData(model, dataSet);

    private static IEnumerable<TestCaseData> EveryModel() => s_models.Select(model => new TestCaseData(model));

    [TestCaseSource(nameof(EveryModelOnBothShapes))]
    public void ABatchGivesOneLogitPerClassAndBackwardReachesEveryParameter(string model, string dataSet)
    {
        // Two images: ResNet-18 is the slowest model here, and batch norm needs more than one.
        using var scope = torch.NewDisposeScope();
        var network = Build(model, Shape(dataSet));
        var logits = network.call(Images(2, Shape(dataSet)));
        Assert.That(logits.shape, Is.EqualTo(new long[] { 2, Classes }));

        torch.nn.functional.cross_entropy(logits, torch.tensor(new long[] { 3, 7 })).backward();
        foreach (var (name, parameter) in network.named_parameters())
        {
            Assert.That(parameter.grad, Is.Not.Null, name);
            Assert.That(parameter.grad!.abs().sum().item<float>(), Is.GreaterThan(0), name);
        }
    }

    // Weights and biases, layer by layer, for 10 classes.
    // mlp 1×28×28: 784·256 + 256 + 256·10 + 10. 3×32×32: 3072·256 + 256 + 2570.
    // cnn 1×28×28: conv1 1·32·9 + 32, conv2 32·64·9 + 64, hidden 64·7·7·128 + 128, out 128·10 + 10.
    //     3×32×32: conv1 3·32·9 + 32, conv2 18,496, hidden 64·8·8·128 + 128, out 1290.
    // resnet18: 11,173,962 with 3 input channels (the usual CIFAR figure), 64·2·9 fewer with 1.
    //     Both normalisations have a scale and a shift per channel.
    // vit (P 4, depth 6, width 192, heads 3): a block is 2 LayerNorms 2·384, qkv 192·576 + 576,
    //     query and key norms 2·128, out 192·192 + 192, fc1 192·768 + 768, fc2 768·192 + 192: 445,120.
    //     1×28×28: patches 1·16·192 + 192, position 49·192, 6 blocks, norm 384, head 1930.
    //     3×32×32: patches 3·16·192 + 192, position 64·192, the same blocks, norm and head.
    [TestCase("--Model:Name=mlp", "mnist", 203_530)]
    [TestCase("--Model:Name=mlp", "cifar10", 789_258)]
    [TestCase("--Model:Name=cnn", "mnist", 421_642)]
    [TestCase("--Model:Name=cnn", "cifar10", 545_098)]
    [TestCase("--Model:Name=resnet18 --Model:Norm=batchnorm", "mnist", 11_172_810)]
    [TestCase("--Model:Name=resnet18 --Model:Norm=batchnorm", "cifar10", 11_173_962)]
    [TestCase("--Model:Name=resnet18 --Model:Norm=layernorm", "mnist", 11_172_810)]
    [TestCase("--Model:Name=resnet18 --Model:Norm=layernorm", "cifar10", 11_173_962)]
    [TestCase("--Model:Name=vit", "mnist", 2_685_706)]
    [TestCase("--Model:Name=vit", "cifar10", 2_694_730)]
    public void TheParameterCountIsTheHandComputedOne(string model, string dataSet, long count)
    {
        using var network = Build(model, Shape(dataSet));
        Assert.That(ParameterCount(network), Is.EqualTo(count));
    }

    [TestCaseSource(nameof(EveryModel))]
    public void ParameterNamesAreUnique(string model)
    {
        using var network = Build(model, Mnist);
        Assert.That(ParameterNames(network), Is.Unique);
    }

    [TestCase("--Model:Name=mlp --Model:Hidden=32,16", new[] { "hidden0.weight", "hidden0.bias", "hidden1.weight", "hidden1.bias", "out.weight", "out.bias" })]
    [TestCase("--Model:Name=cnn", new[] { "conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias", "hidden.weight", "hidden.bias", "out.weight", "out.bias" })]
    public void SequentialModelsNameTheirLayers(string model, string[] names)
    {
        using var network = Build(model, Mnist);
        Assert.That(ParameterNames(network), Is.EqualTo(names));
    }

    [TestCaseSource(nameof(EveryModel))]
    public void TheSameSeedGivesTheSameWeightsAndAnotherSeedOthers(string model)
    {
        using var scope = torch.NewDisposeScope();
        var first = Weights(Build(model, Mnist, seed: 5));
        var again = Weights(Build(model, Mnist, seed: 5));
        var other = Weights(Build(model, Mnist, seed: 6));
        Assert.That(first.equal(again).all().item<bool>(), Is.True);
        Assert.That(first.equal(other).all().item<bool>(), Is.False);
    }

    private static torch.Tensor Weights(torch.nn.Module model) => torch.cat(model.parameters().Select(p => p.detach().flatten()).ToArray());

    [TestCase("--Model:Name=resnet18 --Model:Norm=groupnorm", "mnist", "Model:Norm = 'groupnorm' is not a normalisation: use one of batchnorm, layernorm")]
    [TestCase("--Model:Name=vit --Model:PatchSize=5", "mnist", "Model:PatchSize = 5 must divide the image side 28")]
    [TestCase("--Model:Name=vit --Model:PatchSize=7", "cifar10", "Model:PatchSize = 7 must divide the image side 32")]
    [TestCase("--Model:Name=vit --Model:PatchSize=0", "mnist", "Model:PatchSize = 0 must be at least 1")]
    [TestCase("--Model:Name=vit --Model:Depth=0", "mnist", "Model:Depth = 0 must be at least 1")]
    [TestCase("--Model:Name=vit --Model:Heads=0", "mnist", "Model:Heads = 0 must be at least 1")]
    [TestCase("--Model:Name=vit --Model:Width=0", "mnist", "Model:Width = 0 must be a positive multiple of Model:Heads = 3")]
    [TestCase("--Model:Name=vit --Model:Width=100", "mnist", "Model:Width = 100 must be a positive multiple of Model:Heads = 3")]
    public void ABadSettingIsNamedAndNothingIsBuilt(string model, string dataSet, string message)
    {
        Assert.That(ModelFactory.Problem(Settings(model), Shape(dataSet)), Does.StartWith(message));
        Assert.That(() => ModelFactory.Create(Settings(model), Shape(dataSet), Classes), Throws.ArgumentException.With.Message.StartWith(message));
    }

    [TestCase("--Model:Name=vit --Model:PatchSize=7", "mnist")]
    [TestCase("--Model:Name=vit --Model:Norm=groupnorm", "mnist")]
    [TestCase("--Model:Name=mlp --Model:PatchSize=5 --Model:Heads=0", "cifar10")]
    public void OnlyTheKeysTheModelReadsAreChecked(string model, string dataSet)
    {
        Assert.That(ModelFactory.Problem(Settings(model), Shape(dataSet)), Is.Null);
    }

    [TestCaseSource(nameof(EveryModelOnBothShapes))]
    public void TheDefaultsFitBothShapes(string model, string dataSet)
    {
        Assert.That(ModelFactory.Problem(Settings(model), Shape(dataSet)), Is.Null);
    }
}
