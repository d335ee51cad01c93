namespace HpcAdam.Optim;

/// <summary>
/// Where one named model parameter lies in a flat buffer: elements [Offset, Offset + Π Shape).
/// Saved files name their tensors this way, so they read like any model's state dict.
/// </summary>
public sealed record ParameterSlice(string Name, long Offset, long[] Shape)
{
    public long Count => Shape.Aggregate(1L, (product, size) => product * size);
}
