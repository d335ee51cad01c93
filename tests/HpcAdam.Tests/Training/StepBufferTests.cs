using HpcAdam.Collectives;
using HpcAdam.Training;
using static TorchSharp.torch;

namespace HpcAdam.Tests.Training;

/// <summary>The step's buffer: what it holds after the all-reduce, with micro-batches of equal and of unequal weight.</summary>
[TestFixture]
public sealed class StepBufferTests
{
    private static readonly float[][] s_gradients = [[1f, -2f], [3f, 0.5f], [-1f, 4f]];
    private static readonly float[] s_losses = [0.5f, 1.5f, 2.5f];

    [Test]
    public void MicroBatchesOfEqualWeightAreSummedAsTheyAre()
    {
        using StepBuffer buffer = Filled(units: null);
        Assert.That(buffer.S1.data<float>().ToArray(), Is.EqualTo(new[] { 3f, 2.5f }));
        Assert.That(buffer.S2.data<float>().ToArray(), Is.EqualTo(new[] { 11f, 20.25f }));
        Assert.That(buffer.MeanLoss, Is.EqualTo(1.5).Within(1e-9));
        Assert.That(buffer.TotalSamples, Is.EqualTo(3 * 8));
    }

    [Test]
    public void MicroBatchesThatGiveLossUnitsAreWeighedByThemSoS1OverKappaIsTheMeanOverUnits()
    {
        long[] units = [10, 30, 60];
        using StepBuffer buffer = Filled(units);
        // By hand: S1 = κ·Σ T_k g_k / Σ T_k, S2 = κ·Σ T_k g_k² / Σ T_k, the loss Σ T_k ℓ_k / Σ T_k.
        const int kappa = 3;
        double total = units.Sum();
        double[] s1 = [.. Enumerable.Range(0, 2).Select(j => kappa * Enumerable.Range(0, 3).Sum(k => units[k] * s_gradients[k][j]) / total)];
        double[] s2 = [.. Enumerable.Range(0, 2).Select(j => kappa * Enumerable.Range(0, 3).Sum(k => units[k] * s_gradients[k][j] * s_gradients[k][j]) / total)];
        Assert.That(buffer.S1.data<float>().ToArray(), Is.EqualTo(s1).Within(1e-5));
        Assert.That(buffer.S2.data<float>().ToArray(), Is.EqualTo(s2).Within(1e-5));
        Assert.That(buffer.MeanLoss, Is.EqualTo(Enumerable.Range(0, 3).Sum(k => units[k] * s_losses[k]) / total).Within(1e-6));
        Assert.That(buffer.TotalSamples, Is.EqualTo(3 * 8), "samples are still counted as samples");
    }

    /// <summary>Three micro-batches of 8 samples, reduced on one process.</summary>
    private static StepBuffer Filled(long[]? units)
    {
        var buffer = new StepBuffer(2, bufferElements: 0, rank: 0, ranks: 1);
        buffer.Clear();
        for (int k = 0; k < s_gradients.Length; k++)
        {
            using Tensor gradient = tensor(s_gradients[k]), loss = tensor(s_losses[k]);
            buffer.Add(gradient, loss, samples: 8, units?[k]);
        }
        buffer.Reduce(new SingleProcessCommunicator(), stopRequested: false);
        return buffer;
    }
}
