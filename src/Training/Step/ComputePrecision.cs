using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace HpcAdam.Training;

/// <summary>
/// Train:Precision, the dtype of the forward and backward pass (docs/training.md, "Precision").
/// float32 trains the model as it is. bfloat16 does by hand what autocast does (TorchSharp 0.107 has
/// none): every module's parameters and buffers become bfloat16 except batchnorm's, which keep
/// float32 weights and running statistics (libtorch's batch norm takes a bfloat16 input with float32
/// parameters); <see cref="DataParallelTrainer.Forward"/> casts a floating input to bfloat16 on the way
/// in and the output to float32 on the way out, so the loss and its softmax are computed in float32. The optimizer keeps
/// float32 master weights, S1, S2, m and v (<see cref="FlatParameters"/>) and the bfloat16 weights are
/// rounded from the master weights after every step.
/// </summary>
internal static class ComputePrecision
{
    public static readonly string[] Names = ["float32", "bfloat16"];

    /// <summary>The dtype a precision setting names: Train:Precision, or Collectives:SquaresPrecision (<see cref="StepBuffer"/>).</summary>
    public static ScalarType Parse(string key, string name) => Named(name) ?? throw new ArgumentException(Problem(key, name));

    /// <summary>Why <paramref name="name"/>, the value of <paramref name="key"/>, is not a precision; null when it is one.</summary>
    public static string? Problem(string key, string name) =>
        Named(name) is null ? $"{key} = '{name}' is not a precision: use one of {string.Join(", ", Names)}" : null;

    private static ScalarType? Named(string name) => name.Trim().ToLowerInvariant() switch
    {
        "float32" => ScalarType.Float32,
        "bfloat16" => ScalarType.BFloat16,
        _ => null,
    };

    /// <summary>Converts <paramref name="model"/> to train in <paramref name="precision"/>; nothing for float32.</summary>
    public static void Apply(nn.Module model, ScalarType precision)
    {
        if (precision == ScalarType.Float32)
            return;
        model.to(precision);
        foreach (nn.Module module in model.named_modules().Select(named => named.module).Prepend(model))
            if (module is BatchNorm)
                module.to(ScalarType.Float32);
    }
}
