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

    /// <summary>
    /// Train:Precision=bfloat16: the linear layers compute in bfloat16 from weights rounded from the
    /// float32 master weights, batchnorm keeps float32 weights and statistics, and the model takes and
    /// gives float32 through <c>call</c>. The bfloat16 parameters come first in the layout, so the
    /// gradients widen and the weights round in one operation each.
    /// </summary>
    [Test]
    public void ABfloat16ModelComputesInBfloat16FromFloat32MasterWeights()
    {
        manual_seed(3);
        var model = nn.Sequential(("first", nn.Linear(4, 3)), ("norm", nn.BatchNorm1d(3)), ("second", nn.Linear(3, 2)));
        float[] initial = model.parameters().SelectMany(p => p.detach().flatten().data<float>().ToArray()).ToArray();
        using var parameters = new FlatParameters(model, ScalarType.BFloat16);

        Assert.That(parameters.Slices.Select(slice => slice.Name),
            Is.EqualTo(new[] { "first.weight", "first.bias", "second.weight", "second.bias", "norm.weight", "norm.bias" }));
        Assert.That(parameters.LowCount, Is.EqualTo(4 * 3 + 3 + 3 * 2 + 2));
        var dtypes = model.named_parameters().ToDictionary(entry => entry.name, entry => entry.parameter.dtype);
        Assert.That(dtypes["first.weight"], Is.EqualTo(ScalarType.BFloat16));
        Assert.That(dtypes["norm.weight"], Is.EqualTo(ScalarType.Float32));
        Assert.That(model.named_buffers().Where(entry => entry.name.StartsWith("norm.running", StringComparison.Ordinal)).Select(entry => entry.buffer.dtype),
            Has.All.EqualTo(ScalarType.Float32));
        // The master weights are the float32 values the model was built with, not their bfloat16 roundings.
        float[] byName = parameters.Slices.OrderBy(slice => model.named_parameters().Select(entry => entry.name).ToList().IndexOf(slice.Name))
            .SelectMany(slice => FlatParameters.View(parameters.Weights, slice).flatten().data<float>().ToArray()).ToArray();
        Assert.That(byName, Is.EqualTo(initial));

        // DataParallelTrainer.Forward casts the input to bfloat16 and the output back to float32.
        using Tensor input = randn(5, 4).to(ScalarType.BFloat16);
        Tensor output = model.call(input);
        Assert.That(output.dtype, Is.EqualTo(ScalarType.BFloat16));
        output.to(ScalarType.Float32).sum().backward();
        parameters.WidenGradients();
        using (Tensor low = parameters.LowGradients!.to(ScalarType.Float32))
            Assert.That(parameters.Gradients.narrow(0, 0, parameters.LowCount).data<float>().ToArray(), Is.EqualTo(low.data<float>().ToArray()));
        Assert.That(parameters.Gradients.narrow(0, parameters.LowCount, 6).abs().sum().item<float>(), Is.GreaterThan(0), "batchnorm's float32 gradients");

        parameters.Weights.fill_(1.00390625f + 1e-4f);   // just above halfway between the bfloat16 values 1 and 1 + 2^-7
        parameters.RoundLowWeights();
        Tensor rounded = model.named_parameters().First().parameter;
        Assert.That(rounded.to(ScalarType.Float32).data<float>().ToArray(), Has.All.EqualTo(1.0078125f));
    }
}
