using System.Globalization;
using TorchSharp;

namespace HpcAdam.Optim;

/// <summary>
/// Everything an optimizer carries from step to step, on the weights' device and dtype. Saved
/// and loaded bit for bit (safetensors: m and v as tensors, the scalars as exact decimal text).
/// Given the parameters' <see cref="ParameterSlice"/>s, m and v are saved per parameter as
/// <c>m.NAME</c> and <c>v.NAME</c>; otherwise as the flat tensors <c>m</c> and <c>v</c>.
/// </summary>
public sealed class OptimizerState : IDisposable
{
    private const string Format = "hpcadam-optimizer-state/1";

    internal OptimizerState(OptimizerKind kind, torch.Tensor weights)
    {
        Kind = kind;
        M = kind.IsAdam() ? torch.zeros_like(weights) : torch.empty(0, weights.dtype, weights.device);
        V = kind == OptimizerKind.AdaGradNorm ? torch.empty(0, weights.dtype, weights.device) : torch.zeros_like(weights);
    }

    public OptimizerKind Kind { get; }

    /// <summary>The first moment (Adam kinds); empty otherwise.</summary>
    public torch.Tensor M { get; }

    /// <summary>The second moment (Adam kinds) or AdaGrad's accumulator a; empty for AdaGrad-Norm.</summary>
    public torch.Tensor V { get; }

    /// <summary>c1 = Π(1 − γ1') over the steps so far; m̂ = m / (1 − c1). 1 before the first step.</summary>
    public double C1 { get; internal set; } = 1;

    /// <summary>c2 = Π(1 − γ2') over the steps so far; v̂ = v / (1 − c2). 1 before the first step.</summary>
    public double C2 { get; internal set; } = 1;

    /// <summary>Optimizer steps taken.</summary>
    public long Step { get; internal set; }

    /// <summary>Micro-batches merged in the last step (0 before the first).</summary>
    public int Kappa { get; internal set; }

    /// <summary>AdaGrad-Norm's b² = Σ‖ḡ‖² over the steps so far.</summary>
    public double SquaredNormSum { get; internal set; }

    public void Save(Stream stream, IReadOnlyList<ParameterSlice>? parameters = null)
    {
        var metadata = new Dictionary<string, string>
        {
            ["format"] = Format,
            ["optimizer"] = OptimizerNames.Name(Kind),
            ["elements"] = Text(M.numel() > 0 ? M.numel() : V.numel()),
            ["c1"] = Text(C1),
            ["c2"] = Text(C2),
            ["step"] = Text(Step),
            ["kappa"] = Text(Kappa),
            ["squared_norm_sum"] = Text(SquaredNormSum),
        };
        var tensors = new List<(string, torch.Tensor)>();
        foreach ((string name, torch.Tensor moment) in new[] { ("m", M), ("v", V) })
            if (parameters is null)
                tensors.Add((name, moment));
            else if (moment.numel() > 0)
                tensors.AddRange(parameters.Select(slice => ($"{name}.{slice.Name}", moment.narrow(0, slice.Offset, slice.Count).view(slice.Shape))));
        try
        {
            SafeTensorsFormat.Write(stream, tensors, metadata);
        }
        finally
        {
            if (parameters is not null)
                foreach ((_, torch.Tensor view) in tensors)
                    view.Dispose();
        }
    }

    /// <summary>
    /// Replaces this state with one saved by <see cref="Save"/> for the same optimizer and
    /// buffer size. Everything is read and checked before anything is changed.
    /// </summary>
    public void Load(Stream stream, IReadOnlyList<ParameterSlice>? parameters = null)
    {
        (Dictionary<string, torch.Tensor> tensors, Dictionary<string, string> metadata) = SafeTensorsFormat.Read(stream);
        try
        {
            if (metadata.GetValueOrDefault("format") != Format)
                throw new InvalidDataException($"not an HpcAdam optimizer state (format '{metadata.GetValueOrDefault("format")}', expected '{Format}')");
            string optimizer = metadata["optimizer"];
            if (optimizer != OptimizerNames.Name(Kind))
                throw new InvalidDataException($"the saved state is for {optimizer}, this optimizer is {OptimizerNames.Name(Kind)}");
            if (parameters is not null)
                foreach (string name in new[] { "m", "v" })
                    tensors[name] = Flattened(tensors, name, parameters, name == "m" ? M : V);
            torch.Tensor m = Matching(tensors, "m", M), v = Matching(tensors, "v", V);
            (double c1, double c2, long step, int kappa, double squaredNormSum) = (
                double.Parse(metadata["c1"], CultureInfo.InvariantCulture),
                double.Parse(metadata["c2"], CultureInfo.InvariantCulture),
                long.Parse(metadata["step"], CultureInfo.InvariantCulture),
                int.Parse(metadata["kappa"], CultureInfo.InvariantCulture),
                double.Parse(metadata["squared_norm_sum"], CultureInfo.InvariantCulture));

            M.copy_(m);
            V.copy_(v);
            (C1, C2, Step, Kappa, SquaredNormSum) = (c1, c2, step, kappa, squaredNormSum);
        }
        catch (Exception error) when (error is KeyNotFoundException or FormatException or OverflowException)
        {
            throw new InvalidDataException($"the optimizer state's metadata is incomplete or malformed ({error.Message})", error);
        }
        finally
        {
            foreach (torch.Tensor tensor in tensors.Values)
                tensor.Dispose();
        }
    }

    /// <summary>
    /// Takes over the moments and bias-correction products of another optimizer of the same family
    /// (BSI-Adam, Adam and Micro-Adam share theirs), e.g. to compare them from one warmed-up state.
    /// </summary>
    public void CopyFrom(OptimizerState other)
    {
        bool sameFamily = Kind == other.Kind || (Kind.IsAdam() && other.Kind.IsAdam());
        if (!sameFamily || other.M.numel() != M.numel() || other.V.numel() != V.numel() || other.M.dtype != M.dtype)
            throw new ArgumentException($"a {OptimizerNames.Name(other.Kind)} state of {other.V.numel()} elements cannot start a {OptimizerNames.Name(Kind)} of {V.numel()}", nameof(other));
        M.copy_(other.M);
        V.copy_(other.V);
        (C1, C2, Step, Kappa, SquaredNormSum) = (other.C1, other.C2, other.Step, other.Kappa, other.SquaredNormSum);
    }

    /// <summary>The per-parameter tensors NAME.* joined back into one flat tensor in slice order.</summary>
    private static torch.Tensor Flattened(Dictionary<string, torch.Tensor> tensors, string name, IReadOnlyList<ParameterSlice> parameters, torch.Tensor current)
    {
        if (current.numel() == 0)
            return torch.empty(0, current.dtype, current.device);
        var pieces = new List<torch.Tensor>();
        foreach (ParameterSlice slice in parameters)
        {
            torch.Tensor piece = tensors.GetValueOrDefault($"{name}.{slice.Name}")
                ?? throw new InvalidDataException($"the optimizer state has no tensor '{name}.{slice.Name}': it belongs to another model");
            if (!piece.shape.SequenceEqual(slice.Shape))
                throw new InvalidDataException(
                    $"the saved '{name}.{slice.Name}' has shape [{string.Join(", ", piece.shape)}], this model's is [{string.Join(", ", slice.Shape)}]");
            pieces.Add(piece.flatten());
        }
        torch.Tensor flat = torch.cat(pieces);
        pieces.ForEach(piece => piece.Dispose());
        return flat;
    }

    private static torch.Tensor Matching(Dictionary<string, torch.Tensor> tensors, string name, torch.Tensor current)
    {
        torch.Tensor saved = tensors.GetValueOrDefault(name) ?? throw new InvalidDataException($"the optimizer state has no tensor '{name}'");
        if (saved.dtype != current.dtype || saved.numel() != current.numel())
            throw new InvalidDataException(
                $"the saved '{name}' is {saved.dtype} with {saved.numel()} elements, this optimizer's is {current.dtype} with {current.numel()}: it belongs to another model");
        return saved;
    }

    // "R" prints the shortest text that parses back to the same double, so the scalars round-trip bit for bit.
    private static string Text(double value) => value.ToString("R", CultureInfo.InvariantCulture);

    private static string Text(long value) => value.ToString(CultureInfo.InvariantCulture);

    public void Dispose()
    {
        M.Dispose();
        V.Dispose();
    }
}
