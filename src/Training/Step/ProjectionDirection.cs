using System.Globalization;
using HpcAdam.Optim;
using static TorchSharp.torch;

namespace HpcAdam.Training;

/// <summary>
/// How the inner-product and orthogonality tests get ⟨g_k, ḡ⟩ without keeping every micro-batch
/// gradient until the all-reduce (docs/ALGORITHMS.md offers both; this is the documented choice):
/// each rank projects its micro-batch gradients on the previous step's unit direction
/// d = ḡ_{s−1}/‖ḡ_{s−1}‖, which every rank holds identically, and the step's all-reduce carries
/// two extra scalars, Σ_k a_k and Σ_k a_k² with a_k = ⟨g_k, d⟩ − c. The shift c = ‖ḡ_{s−1}‖, the
/// previous projection's mean, keeps the float32 sums from cancelling; variances ignore it.
/// The tests then read Var_k⟨g_k, ḡ⟩ ≈ ‖ḡ‖²·Var_k(a_k): the direction lags by one step, which
/// is the price of a single collective. The first step, with no direction yet, tests nothing.
/// </summary>
internal sealed class ProjectionDirection : IDisposable
{
    private const string Format = "hpcadam-projection-direction/1";

    private readonly Tensor _direction;
    private double _shift;

    public ProjectionDirection(Tensor weights) => _direction = zeros_like(weights);

    /// <summary>Whether a direction is known (after the first step that was not skipped).</summary>
    public bool Known { get; private set; }

    /// <summary>a_k for one micro-batch gradient, in the flat layout of the weights.</summary>
    public double Project(Tensor gradient)
    {
        using Tensor dot = gradient.dot(_direction);
        return dot.item<float>() - _shift;
    }

    /// <summary>Takes the direction of this step's S1 (= κ·ḡ) for the next step's projections.</summary>
    public void Follow(Tensor gradientSum, int kappa)
    {
        using Tensor norm = gradientSum.norm();
        double length = norm.item<float>();
        if (!(length > 0) || !double.IsFinite(length))
            return;
        using (no_grad())
            _direction.copy_(gradientSum).div_(length);
        _shift = length / kappa;
        Known = true;
    }

    public void Save(Stream stream) => SafeTensorsFormat.Write(stream, [("direction", _direction)],
        new Dictionary<string, string> { ["format"] = Format, ["shift"] = _shift.ToString("R", CultureInfo.InvariantCulture) });

    /// <summary>Replaces the direction with a saved one of the same size.</summary>
    public void Load(Stream stream)
    {
        (Dictionary<string, Tensor> tensors, Dictionary<string, string> metadata) = SafeTensorsFormat.Read(stream);
        try
        {
            if (metadata.GetValueOrDefault("format") != Format || !tensors.TryGetValue("direction", out Tensor? saved)
                || saved.numel() != _direction.numel() || saved.dtype != _direction.dtype
                || !double.TryParse(metadata.GetValueOrDefault("shift"), CultureInfo.InvariantCulture, out double shift))
                throw new InvalidDataException($"the saved projection direction is not a {Format} of {_direction.numel()} {_direction.dtype} elements");
            _direction.copy_(saved);
            (_shift, Known) = (shift, true);
        }
        finally
        {
            foreach (Tensor tensor in tensors.Values)
                tensor.Dispose();
        }
    }

    public void Dispose() => _direction.Dispose();
}
