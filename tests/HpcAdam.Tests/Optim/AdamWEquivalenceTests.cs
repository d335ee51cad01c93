using HpcAdam.Optim;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace HpcAdam.Tests.Optim;

/// <summary>
/// At κ = 1 the mean of squares is the square of the mean, so BSI-Adam, standard Adam and
/// PyTorch's AdamW (β = 1 − γ, decoupled weight decay) are the same algorithm: after 20 steps
/// on a small network their weights agree to float32 rounding.
/// </summary>
public sealed class AdamWEquivalenceTests
{
    private const int Steps = 20;

    /// <summary>
    /// Stated tolerance: 1e-6 absolute on weights of order 0.3, i.e. a few float32 ulps times
    /// the 20 steps; a wrong formula (bias correction, ε placement, decay) moves them by 1e-3.
    /// </summary>
    private const double Tolerance = 1e-6;

    private static readonly AdamHyperparameters s_hyperparameters = new(LearningRate: 1e-2, Gamma1: 0.1, Gamma2: 0.001, Epsilon: 1e-8, WeightDecay: 0.1);

    [TestCase(OptimizerKind.BsiAdam)]
    [TestCase(OptimizerKind.Adam)]
    public void MatchesTorchSharpAdamWAtKappaOne(OptimizerKind kind)
    {
        using var scope = NewDisposeScope();
        var (reference, inputs, labels) = SmallProblem();
        var ours = CopyOf(reference);
        using var adamW = optim.AdamW(reference.parameters(), lr: s_hyperparameters.LearningRate,
            beta1: 1 - s_hyperparameters.Gamma1, beta2: 1 - s_hyperparameters.Gamma2,
            eps: s_hyperparameters.Epsilon, weight_decay: s_hyperparameters.WeightDecay);

        Tensor flat = cat(ours.parameters().Select(p => p.detach().flatten()).ToArray()).contiguous();
        using var optimizer = new FlatOptimizer(flat, kind, s_hyperparameters);
        for (int step = 0; step < Steps; step++)
        {
            adamW.zero_grad();
            nn.functional.cross_entropy(reference.forward(inputs[step]), labels[step]).backward();
            adamW.step();

            ours.zero_grad();
            nn.functional.cross_entropy(ours.forward(inputs[step]), labels[step]).backward();
            Tensor gradient = cat(ours.parameters().Select(p => p.grad!.flatten()).ToArray());
            optimizer.Step(gradient, gradient.square(), kappa: 1);
            CopyInto(ours, flat);
        }

        Tensor expected = cat(reference.parameters().Select(p => p.detach().flatten()).ToArray());
        double largest = (flat - expected).abs().max().item<float>();
        double moved = (expected - cat(SmallProblem().Model.parameters().Select(p => p.detach().flatten()).ToArray())).abs().max().item<float>();
        TestContext.Out.WriteLine($"{kind}: max |w_ours − w_AdamW| = {largest:E2} after {Steps} steps; largest weight change {moved:E2}");
        Assert.That(moved, Is.GreaterThan(0.05), "the weights must actually move for the comparison to mean anything");
        Assert.That(largest, Is.LessThanOrEqualTo(Tolerance));
    }

    private static (nn.Module<Tensor, Tensor> Model, Tensor[] Inputs, Tensor[] Labels) SmallProblem()
    {
        var generator = new Generator(7);
        var model = nn.Sequential(("hidden", nn.Linear(6, 16)), ("relu", nn.ReLU()), ("out", nn.Linear(16, 3)));
        using (no_grad())
            foreach (Parameter parameter in model.parameters())
                parameter.copy_(rand(parameter.shape, generator: generator) - 0.5);
        Tensor[] inputs = Enumerable.Range(0, Steps).Select(_ => randn(32, 6, generator: generator)).ToArray();
        Tensor[] labels = Enumerable.Range(0, Steps).Select(_ => randint(0, 3, 32, generator: generator)).ToArray();
        return (model, inputs, labels);
    }

    private static nn.Module<Tensor, Tensor> CopyOf(nn.Module<Tensor, Tensor> model)
    {
        var copy = SmallProblem().Model;
        CopyInto(copy, cat(model.parameters().Select(p => p.detach().flatten()).ToArray()));
        return copy;
    }

    private static void CopyInto(nn.Module<Tensor, Tensor> model, Tensor flat)
    {
        using var _ = no_grad();
        long offset = 0;
        foreach (Parameter parameter in model.parameters())
        {
            parameter.copy_(flat.narrow(0, offset, parameter.numel()).view_as(parameter));
            offset += parameter.numel();
        }
    }
}
