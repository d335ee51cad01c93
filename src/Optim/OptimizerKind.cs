namespace HpcAdam.Optim;

/// <summary>The optimizers of the paper and of AdAdaGrad, as users name them in configuration.</summary>
public enum OptimizerKind
{
    /// <summary>Batch-size-invariant Adam (paper Alg. 3): v follows the mean of the squared micro-batch gradients.</summary>
    BsiAdam,

    /// <summary>Standard Adam on the mini-batch (Alg. 2): v follows the square of the mean gradient.</summary>
    Adam,

    /// <summary>Micro-Adam (Alg. 1): standard Adam applied to each micro-batch in turn, so every step has κ = 1.</summary>
    MicroAdam,

    /// <summary>AdaGrad with a per-coordinate accumulator of ḡ².</summary>
    AdaGrad,

    /// <summary>AdaGrad-Norm: one scalar accumulator of ‖ḡ‖².</summary>
    AdaGradNorm,
}

/// <summary>The names of <see cref="OptimizerKind"/> in configuration and on the command line.</summary>
public static class OptimizerNames
{
    private static readonly (string Name, OptimizerKind Kind)[] s_names =
    [
        ("bsi-adam", OptimizerKind.BsiAdam),
        ("adam", OptimizerKind.Adam),
        ("micro-adam", OptimizerKind.MicroAdam),
        ("adagrad", OptimizerKind.AdaGrad),
        ("adagrad-norm", OptimizerKind.AdaGradNorm),
    ];

    /// <summary>Every accepted name, for help text and error messages.</summary>
    public static string All => string.Join(", ", s_names.Select(entry => entry.Name));

    public static string Name(OptimizerKind kind) => s_names.First(entry => entry.Kind == kind).Name;

    public static OptimizerKind Parse(string name) =>
        TryParse(name, out OptimizerKind kind) ? kind : throw new ArgumentException($"unknown optimizer '{name}': use one of {All}", nameof(name));

    /// <summary>The optimizer <paramref name="name"/> names, ignoring case and surrounding spaces.</summary>
    public static bool TryParse(string name, out OptimizerKind kind)
    {
        (string? found, kind) = s_names.FirstOrDefault(entry => string.Equals(entry.Name, name.Trim(), StringComparison.OrdinalIgnoreCase));
        return found is not null;
    }

    /// <summary>Whether the optimizer keeps Adam's m, v and bias-correction products (else AdaGrad's accumulators).</summary>
    public static bool IsAdam(this OptimizerKind kind) => kind is OptimizerKind.BsiAdam or OptimizerKind.Adam or OptimizerKind.MicroAdam;
}
