using HpcAdam.Optim;
using TorchSharp;

namespace HpcAdam.Tests.Optim;

/// <summary>
/// A float64 test problem for the theorems: micro-batch k has the loss ½·Σ h_k⊙(w − c_k)², so
/// its gradient g_k(w) = h_k⊙(w − c_k) depends on where it is taken and differs between
/// micro-batches. The starting state has seen about t̄/δ steps (docs/ALGORITHMS.md, Theorem 1), so
/// bias correction stays finite as δ → 0.
/// </summary>
internal sealed class QuadraticMicroBatches : IDisposable
{
    private const double StepsTimesDelta = 2;   // t̄
    private readonly torch.Tensor _curvature, _centres, _w0, _m0, _v0;

    public QuadraticMicroBatches(int microBatches, int dimension, int seed)
    {
        using var generator = new torch.Generator((ulong)seed);
        _curvature = torch.rand(microBatches, dimension, torch.float64, generator: generator) + 0.5;
        _centres = torch.randn(microBatches, dimension, torch.float64, generator: generator);
        _w0 = torch.randn(dimension, torch.float64, generator: generator);
        _m0 = 0.5 * torch.randn(dimension, torch.float64, generator: generator);
        _v0 = torch.rand(dimension, torch.float64, generator: generator) + 0.5;
    }

    public torch.Tensor Gradient(int microBatch, torch.Tensor w) => _curvature[microBatch] * (w - _centres[microBatch]);

    /// <summary>The starting (w, m, v) as one [3, d] tensor, for differences.</summary>
    public torch.Tensor Start => torch.stack([_w0, _m0, _v0]);

    /// <summary>An optimizer whose state is the common start, at the step count t̄/δ.</summary>
    public FlatOptimizer Optimizer(OptimizerKind kind, AdamHyperparameters reference, ScalingRule rule, double delta)
    {
        var optimizer = new FlatOptimizer(_w0.clone(), kind, reference, rule, referenceKappa: 1);
        optimizer.State.M.copy_(_m0);
        optimizer.State.V.copy_(_v0);
        double steps = Math.Round(StepsTimesDelta / delta);
        optimizer.State.C1 = Math.Pow(1 - reference.Gamma1, steps);
        optimizer.State.C2 = Math.Pow(1 - reference.Gamma2, steps);
        optimizer.State.Step = (long)steps;
        return optimizer;
    }

    /// <summary>Micro-batches [first, first + count) as steps of κ each, gradients at the weights of each step.</summary>
    public static void Run(FlatOptimizer optimizer, QuadraticMicroBatches problem, int first, int count, int kappa)
    {
        for (int start = first; start < first + count; start += kappa)
        {
            using var scope = torch.NewDisposeScope();
            torch.Tensor s1 = torch.zeros_like(optimizer.Weights), s2 = torch.zeros_like(optimizer.Weights);
            for (int k = start; k < start + kappa; k++)
            {
                torch.Tensor g = problem.Gradient(k, optimizer.Weights);
                s1.add_(g);
                s2.addcmul_(g, g, value: 1);
            }
            optimizer.Step(s1, s2, kappa);
        }
    }

    /// <summary>(w, m, v) after minus before, as one [3, d] tensor.</summary>
    public torch.Tensor Change(FlatOptimizer optimizer) =>
        torch.stack([optimizer.Weights, optimizer.State.M, optimizer.State.V]) - Start;

    /// <summary>‖a_X − b_X‖ / ‖a_X‖ for X = w, m, v.</summary>
    public static double[] RelativeDiscrepancy(torch.Tensor a, torch.Tensor b) =>
        Enumerable.Range(0, 3).Select(x => (a[x] - b[x]).norm().item<double>() / a[x].norm().item<double>()).ToArray();

    public void Dispose()
    {
        foreach (torch.Tensor tensor in new[] { _curvature, _centres, _w0, _m0, _v0 })
            tensor.Dispose();
    }
}
