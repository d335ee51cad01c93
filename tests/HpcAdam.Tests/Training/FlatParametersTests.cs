using HpcAdam.Trainer.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace HpcAdam.Tests.Training;

/// <summary>The model's parameters and gradients are views of the two flat buffers, never copies.</summary>
public sealed class FlatParametersTests
{
    [Test]
    public void BackwardFillsTheFlatGradientAndTheOptimizersWritesReachTheModel()
    {
        manual_seed(3);
        var model = nn.Sequential(("first", nn.Linear(4, 3)), ("relu", nn.ReLU()), ("second", nn.Linear(3, 2)));
        using Tensor input = randn(5, 4);
        using Tensor before = model.forward(input).detach().clone();
        using var parameters = new FlatParameters(model);

        Assert.That(parameters.Slices.Select(slice => slice.Name), Is.EqualTo(new[] { "first.weight", "first.bias", "second.weight", "second.bias" }));
        Assert.That(parameters.Count, Is.EqualTo(4 * 3 + 3 + 3 * 2 + 2));
        using (Tensor after = model.forward(input))
            Assert.That(after.bytes.ToArray(), Is.EqualTo(before.bytes.ToArray()), "moving into the flat buffer changed the model");

        model.forward(input).sum().backward();
        float[] flatGradient = parameters.Gradients.data<float>().ToArray();
        float[] modelGradients = model.parameters().SelectMany(p => p.grad!.flatten().data<float>().ToArray()).ToArray();
        Assert.That(flatGradient, Is.EqualTo(modelGradients));
        Assert.That(flatGradient.Any(value => value != 0), Is.True);

        parameters.ZeroGradients();
        Assert.That(model.parameters().All(p => p.grad!.abs().sum().item<float>() == 0), Is.True);

        parameters.Weights.zero_();
        using Tensor zeroed = model.forward(input);
        Assert.That(zeroed.abs().sum().item<float>(), Is.Zero, "a write to the flat weights did not reach the model");
    }
}
