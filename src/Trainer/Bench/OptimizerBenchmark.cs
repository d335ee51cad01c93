using System.Diagnostics;
using HpcAdam.Optim;
using TorchSharp;
using TorchSharp.Modules;

namespace HpcAdam.Trainer.Bench;

/// <summary>Parameter count and repetitions of one optimizer benchmark run.</summary>
internal sealed record OptimizerBenchOptions(long Params, int Warmup, int Iterations);

/// <summary>
/// Times one optimizer step three ways over the same parameter count: BSI-Adam's fused pass
/// over one flat buffer, TorchSharp's Adam over a ResNet-18's tensors (a few tensor operations
/// per tensor), and a STREAM triad moving the bytes BSI-Adam moves. Each is the median of the
/// timed steps after untimed warm-ups (which also fault the memory in and let Adam allocate
/// its state). One contender's buffers are freed before the next is allocated.
/// </summary>
internal static class OptimizerBenchmark
{
    /// <summary>A typical micro-batch count per step; the fused pass costs the same at any κ.</summary>
    public const int Kappa = 4;

    /// <summary>The most parameters: FlatOptimizer's host pass sees the flat float32 buffer as a span, so it must stay under 2 GiB.</summary>
    public const long MaxParams = int.MaxValue / sizeof(float);

    private const int Seed = 1234;

    private static readonly AdamHyperparameters s_hyperparameters = new(LearningRate: 1e-3);

    public static OptimizerTimings Run(OptimizerBenchOptions options, int threads, Action<string> progress)
    {
        progress($"# timing BSI-Adam: FlatOptimizer over one flat float32 buffer, random S1 and S2, κ = {Kappa}");
        double bsiAdam = TimeBsiAdam(options, threads);
        List<long[]> shapes = ResNet18Shapes.ForParameterCount(options.Params);
        progress($"# timing TorchSharp Adam: torch.optim.Adam over {shapes.Count} tensors shaped as ResNet-18's, random gradients");
        double torchSharpAdam = TimeTorchSharpAdam(options, shapes);
        // Same bytes as one BSI-Adam step, rounded up to whole elements.
        int triadLength = checked((int)((options.Params * OptimizerTimings.BsiAdamBytesPerParameter + StreamTriad.BytesPerElement - 1) / StreamTriad.BytesPerElement));
        progress($"# timing triad a = b + s·c: 3 float32 arrays of {triadLength} elements, the bytes of one BSI-Adam step");
        double triad = TimeTriad(options, triadLength, threads);
        return new OptimizerTimings(options.Params, bsiAdam, torchSharpAdam, triad);
    }

    private static double TimeBsiAdam(OptimizerBenchOptions options, int threads)
    {
        using var scope = torch.NewDisposeScope();
        var generator = new torch.Generator(Seed);
        torch.Tensor weights = torch.randn(options.Params, generator: generator);
        torch.Tensor s1 = torch.randn(options.Params, generator: generator);
        torch.Tensor s2 = torch.rand(options.Params, generator: generator);
        using var optimizer = new FlatOptimizer(weights, OptimizerKind.BsiAdam, s_hyperparameters) { MaxThreads = threads };
        return MedianMilliseconds(options, () => optimizer.Step(s1, s2, Kappa));
    }

    private static double TimeTorchSharpAdam(OptimizerBenchOptions options, List<long[]> shapes)
    {
        using var scope = torch.NewDisposeScope();
        var generator = new torch.Generator(Seed);
        Parameter[] parameters = shapes.Select(shape => new Parameter(torch.randn(shape, generator: generator))).ToArray();
        foreach (Parameter parameter in parameters)
            parameter.grad = torch.randn(parameter.shape, generator: generator);
        // The same algorithm as the flat optimizer: β = 1 − γ.
        using var adam = torch.optim.Adam(parameters, lr: s_hyperparameters.LearningRate,
            beta1: 1 - s_hyperparameters.Gamma1, beta2: 1 - s_hyperparameters.Gamma2, eps: s_hyperparameters.Epsilon);
        return MedianMilliseconds(options, () => adam.step());
    }

    private static double TimeTriad(OptimizerBenchOptions options, int length, int threads)
    {
        var triad = new StreamTriad(length);
        return MedianMilliseconds(options, () => triad.Run(threads));
    }

    private static double MedianMilliseconds(OptimizerBenchOptions options, Action step)
    {
        for (int i = 0; i < options.Warmup; i++)
            step();
        var milliseconds = new double[options.Iterations];
        for (int i = 0; i < options.Iterations; i++)
        {
            long start = Stopwatch.GetTimestamp();
            step();
            milliseconds[i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        }
        Array.Sort(milliseconds);
        int middle = milliseconds.Length / 2;
        return milliseconds.Length % 2 == 1 ? milliseconds[middle] : (milliseconds[middle - 1] + milliseconds[middle]) / 2;
    }
}
