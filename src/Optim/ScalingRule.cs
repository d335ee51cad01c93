namespace HpcAdam.Optim;

/// <summary>
/// How hyperparameters given at a reference κ_ref follow the batch when a step merges κ
/// micro-batches (paper eq. 7, 9, 11–13; docs/ALGORITHMS.md "Scaling rules").
/// </summary>
public enum ScalingRule
{
    /// <summary>η' = η·κ/κ_ref, γ' = γ·κ/κ_ref: BSI-Adam's rule (Theorems 1 and 2).</summary>
    Linear,

    /// <summary>η' = η·√(κ/κ_ref), γ' = γ·κ/κ_ref (Malladi et al. 2022), optionally ε' = ε/√(κ/κ_ref): the standard-Adam baseline.</summary>
    Sqrt,

    /// <summary>η' = η, γ' = γ: hyperparameters used as given.</summary>
    None,
}

/// <summary>Applies a <see cref="ScalingRule"/>.</summary>
public static class HyperparameterScaling
{
    /// <summary>
    /// The effective hyperparameters for a step of <paramref name="kappa"/> micro-batches, from
    /// <paramref name="reference"/> given at <paramref name="referenceKappa"/>. Rejects, naming
    /// the value, any combination that puts γ1' or γ2' outside (0, 1).
    /// </summary>
    public static AdamHyperparameters Scale(AdamHyperparameters reference, ScalingRule rule, int kappa, int referenceKappa,
        bool scaleEpsilon = false)
    {
        reference.Validate();

        double ratio = (double)kappa / referenceKappa;
        double rateFactor = rule == ScalingRule.None ? 1 : ratio;
        AdamHyperparameters scaled = reference with
        {
            LearningRate = reference.LearningRate * LearningRateFactor(rule, kappa, referenceKappa),
            Gamma1 = reference.Gamma1 * rateFactor,
            Gamma2 = reference.Gamma2 * rateFactor,
            Epsilon = rule == ScalingRule.Sqrt && scaleEpsilon ? reference.Epsilon / Math.Sqrt(ratio) : reference.Epsilon,
        };
        RequireRate(nameof(AdamHyperparameters.Gamma1), reference.Gamma1, scaled.Gamma1, kappa, referenceKappa);
        RequireRate(nameof(AdamHyperparameters.Gamma2), reference.Gamma2, scaled.Gamma2, kappa, referenceKappa);
        scaled.Validate();
        return scaled;
    }

    /// <summary>
    /// η'/η for a step of <paramref name="kappa"/> micro-batches. AdaGrad and AdaGrad-Norm have no
    /// EMA rates, so they scale only the learning rate.
    /// </summary>
    public static double LearningRateFactor(ScalingRule rule, int kappa, int referenceKappa)
    {
        if (kappa < 1)
            throw new ArgumentOutOfRangeException(nameof(kappa), kappa, "κ, the micro-batches per step, must be at least 1");
        if (referenceKappa < 1)
            throw new ArgumentOutOfRangeException(nameof(referenceKappa), referenceKappa, "the reference κ must be at least 1");
        double ratio = (double)kappa / referenceKappa;
        return rule switch
        {
            ScalingRule.Linear => ratio,
            ScalingRule.Sqrt => Math.Sqrt(ratio),
            ScalingRule.None => 1,
            _ => throw new ArgumentOutOfRangeException(nameof(rule), rule, "unknown scaling rule"),
        };
    }

    private static void RequireRate(string name, double given, double scaled, int kappa, int referenceKappa)
    {
        if (!(scaled > 0 && scaled < 1))
            throw new HyperparameterException(name, given,
                $"at reference κ {referenceKappa} becomes {AdamHyperparameters.Format(scaled)} at κ {kappa}, outside (0, 1): lower it or raise the reference κ");
    }
}
