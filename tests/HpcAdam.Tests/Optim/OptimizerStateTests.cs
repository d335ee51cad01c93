using HpcAdam.Optim;
using TorchSharp;

namespace HpcAdam.Tests.Optim;

/// <summary>Saving and loading (m, v, c1, c2, step, κ) is exact, and a bad file changes nothing.</summary>
public sealed class OptimizerStateTests
{
    private static readonly AdamHyperparameters s_hyperparameters = new(LearningRate: 1e-3, Gamma1: 0.05, Gamma2: 0.0005);

    [TestCase(OptimizerKind.BsiAdam)]
    [TestCase(OptimizerKind.Adam)]
    [TestCase(OptimizerKind.AdaGrad)]
    [TestCase(OptimizerKind.AdaGradNorm)]
    public void RoundTripsBitForBitAndContinuesIdentically(OptimizerKind kind)
    {
        using var first = Trained(kind, steps: 5);
        using var stream = new MemoryStream();
        first.State.Save(stream);
        stream.Position = 0;

        using var second = new FlatOptimizer(first.Weights.clone(), kind, s_hyperparameters, ScalingRule.Linear, referenceKappa: 4);
        second.State.Load(stream);
        AssertSameBits(first.State, second.State);

        // Both go on with the same steps at another κ: the weights stay identical bit for bit.
        StepRandomly(first, seed: 99, kappa: 2);
        StepRandomly(second, seed: 99, kappa: 2);
        Assert.That(second.Weights.bytes.ToArray(), Is.EqualTo(first.Weights.bytes.ToArray()));
    }

    [Test]
    public void AStateForAnotherOptimizerOrModelIsRefusedAndChangesNothing()
    {
        using var adam = Trained(OptimizerKind.Adam, steps: 2);
        using var saved = new MemoryStream();
        adam.State.Save(saved);
        using var bsi = Trained(OptimizerKind.BsiAdam, steps: 3);
        using var larger = new FlatOptimizer(torch.zeros(1001), OptimizerKind.Adam, s_hyperparameters);
        byte[] before = bsi.State.M.bytes.ToArray();

        saved.Position = 0;
        Assert.That(() => bsi.State.Load(saved), Throws.TypeOf<InvalidDataException>().With.Message.EqualTo("the saved state is for adam, this optimizer is bsi-adam"));
        saved.Position = 0;
        Assert.That(() => larger.State.Load(saved), Throws.TypeOf<InvalidDataException>().With.Message.Contains("with 1000 elements, this optimizer's is Float32 with 1001"));
        Assert.That(bsi.State.M.bytes.ToArray(), Is.EqualTo(before));
        Assert.That(bsi.State.Step, Is.EqualTo(3));
    }

    [Test]
    public void ATruncatedOrForeignFileIsADataErrorAndChangesNothing()
    {
        using var bsi = Trained(OptimizerKind.BsiAdam, steps: 2);
        using var saved = new MemoryStream();
        bsi.State.Save(saved);
        byte[] whole = saved.ToArray();
        double c1 = bsi.State.C1;

        Assert.That(() => bsi.State.Load(new MemoryStream(whole[..(whole.Length - 100)])),
            Throws.TypeOf<InvalidDataException>().With.Message.Contains("truncated"));
        Assert.That(() => bsi.State.Load(new MemoryStream("not a state at all"u8.ToArray())),
            Throws.TypeOf<InvalidDataException>().With.Message.StartsWith("not a safetensors file"));
        Assert.That(bsi.State.C1, Is.EqualTo(c1));
    }

    [Test]
    public void SavedByParameterNameItRoundTripsAndNamesEachMoment()
    {
        using var first = Trained(OptimizerKind.BsiAdam, steps: 3);
        ParameterSlice[] parameters = [new("layer.weight", 0, [10, 90]), new("layer.bias", 900, [100])];
        using var stream = new MemoryStream();
        first.State.Save(stream, parameters);

        stream.Position = 0;
        Assert.That(SafeTensorsFormat.Read(stream).Tensors.Keys, Is.EquivalentTo(new[] { "m.layer.weight", "m.layer.bias", "v.layer.weight", "v.layer.bias" }));
        stream.Position = 0;
        using var second = new FlatOptimizer(first.Weights.clone(), OptimizerKind.BsiAdam, s_hyperparameters, ScalingRule.Linear, referenceKappa: 4);
        second.State.Load(stream, parameters);
        AssertSameBits(first.State, second.State);

        stream.Position = 0;
        ParameterSlice[] otherModel = [new("layer.weight", 0, [90, 10]), new("layer.bias", 900, [100])];
        Assert.That(() => second.State.Load(stream, otherModel), Throws.InstanceOf<InvalidDataException>().With.Message.Contains("m.layer.weight"));
    }

    [TestCase(OptimizerKind.BsiAdam)]
    [TestCase(OptimizerKind.Adam)]
    [TestCase(OptimizerKind.AdaGradNorm)]
    public void AStepWhoseKernelRefusesItsInputChangesNoState(OptimizerKind kind)
    {
        using var optimizer = Trained(kind, steps: 3);
        using var unchanged = new FlatOptimizer(optimizer.Weights.clone(), kind, s_hyperparameters, ScalingRule.Linear, referenceKappa: 4);
        using (var saved = new MemoryStream())
        {
            optimizer.State.Save(saved);
            saved.Position = 0;
            unchanged.State.Load(saved);
        }
        // Every second element of a buffer twice as long: the right length and type, but not the flat buffer the kernel needs.
        using var spaced = torch.ones(2 * optimizer.Weights.numel());
        using var strided = spaced.slice(0, 0, spaced.numel(), 2);
        using var squares = torch.ones_like(optimizer.Weights);
        Assert.That(() => optimizer.Step(strided, squares, kappa: 4), Throws.ArgumentException.With.Message.Contains("not contiguous"));
        AssertSameBits(unchanged.State, optimizer.State);
    }

    private static FlatOptimizer Trained(OptimizerKind kind, int steps)
    {
        var optimizer = new FlatOptimizer(torch.rand(1000), kind, s_hyperparameters, ScalingRule.Linear, referenceKappa: 4);
        for (int step = 0; step < steps; step++)
            StepRandomly(optimizer, seed: step, kappa: 1 + step % 4);
        return optimizer;
    }

    private static void StepRandomly(FlatOptimizer optimizer, int seed, int kappa)
    {
        using var generator = new torch.Generator((ulong)seed);
        using var s1 = torch.randn(optimizer.Weights.shape, generator: generator);
        using var s2 = s1.square() + torch.rand(optimizer.Weights.shape, generator: generator);
        optimizer.Step(s1, s2, kappa);
    }

    private static void AssertSameBits(OptimizerState expected, OptimizerState actual) => Assert.Multiple(() =>
    {
        Assert.That(actual.M.bytes.ToArray(), Is.EqualTo(expected.M.bytes.ToArray()), "m");
        Assert.That(actual.V.bytes.ToArray(), Is.EqualTo(expected.V.bytes.ToArray()), "v");
        Assert.That(BitConverter.DoubleToInt64Bits(actual.C1), Is.EqualTo(BitConverter.DoubleToInt64Bits(expected.C1)), "c1");
        Assert.That(BitConverter.DoubleToInt64Bits(actual.C2), Is.EqualTo(BitConverter.DoubleToInt64Bits(expected.C2)), "c2");
        Assert.That(BitConverter.DoubleToInt64Bits(actual.SquaredNormSum), Is.EqualTo(BitConverter.DoubleToInt64Bits(expected.SquaredNormSum)), "b²");
        Assert.That((actual.Step, actual.Kappa), Is.EqualTo((expected.Step, expected.Kappa)), "step, κ");
    });
}
