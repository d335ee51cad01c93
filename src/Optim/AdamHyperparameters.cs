using System.Globalization;

namespace HpcAdam.Optim;

/// <summary>
/// Adam's hyperparameters in the paper's γ parameterisation: β = 1 − γ (eq. 2), so γ1 and γ2
/// are the EMA rates of m and v and scale linearly with the batch under BSI-Adam.
/// </summary>
/// <param name="LearningRate">η.</param>
/// <param name="Gamma1">γ1 = 1 − β1, the rate of the first-moment EMA (paper default 0.1).</param>
/// <param name="Gamma2">γ2 = 1 − β2, the rate of the second-moment EMA (paper default 0.001).</param>
/// <param name="Epsilon">ε in the denominator.</param>
/// <param name="WeightDecay">λ, decoupled (AdamW): w ← (1 − ηλ)·w − ….</param>
/// <param name="EpsilonInsideSqrt">
/// False: m̂ / (√v̂ + ε), the PyTorch convention and the default. True: m̂ / √(v̂ + ε), as the
/// paper's Alg. 1 writes it.
/// </param>
public sealed record AdamHyperparameters(
    double LearningRate,
    double Gamma1 = 0.1,
    double Gamma2 = 0.001,
    double Epsilon = 1e-8,
    double WeightDecay = 0,
    bool EpsilonInsideSqrt = false)
{
    /// <summary>1 − ηλ: the decoupled weight decay's factor on w, which every optimizer applies.</summary>
    internal double WeightDecayFactor => 1 - LearningRate * WeightDecay;

    /// <summary>Throws <see cref="HyperparameterException"/> naming the first value that cannot work.</summary>
    public void Validate()
    {
        if (!(LearningRate > 0) || double.IsInfinity(LearningRate))
            throw Invalid(nameof(LearningRate), LearningRate, "must be a positive finite number");
        if (!(Gamma1 > 0 && Gamma1 < 1))
            throw Invalid(nameof(Gamma1), Gamma1, "must lie in (0, 1) (γ1 = 1 − β1)");
        if (!(Gamma2 > 0 && Gamma2 < 1))
            throw Invalid(nameof(Gamma2), Gamma2, "must lie in (0, 1) (γ2 = 1 − β2)");
        if (!(Epsilon >= 0) || double.IsInfinity(Epsilon))
            throw Invalid(nameof(Epsilon), Epsilon, "must be a finite number of at least 0");
        if (!(WeightDecay >= 0) || double.IsInfinity(WeightDecay))
            throw Invalid(nameof(WeightDecay), WeightDecay, "must be a finite number of at least 0");
        // The decoupled decay multiplies w by 1 − ηλ; at 0 or below it wipes or flips the weights.
        if (LearningRate * WeightDecay >= 1)
            throw Invalid(nameof(WeightDecay), WeightDecay, $"times the learning rate {Format(LearningRate)} must stay below 1 (w is multiplied by 1 − ηλ)");
    }

    internal static HyperparameterException Invalid(string name, double value, string reason) => new(name, value, reason);

    internal static string Format(double value) => value.ToString("G6", CultureInfo.InvariantCulture);
}

/// <summary>
/// A hyperparameter that cannot work: <see cref="ArgumentException.ParamName"/> is its name in
/// <see cref="AdamHyperparameters"/>, so a caller can name it in its own terms (a configuration
/// key) from <see cref="Value"/> and <see cref="Reason"/> without reading the message.
/// </summary>
public sealed class HyperparameterException(string parameter, double value, string reason)
    : ArgumentException($"{parameter} = {AdamHyperparameters.Format(value)} {reason}", parameter)
{
    public double Value { get; } = value;

    /// <summary>What is wrong and what to do, to follow "NAME = VALUE ".</summary>
    public string Reason { get; } = reason;
}
