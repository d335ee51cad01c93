using static TorchSharp.torch;

namespace HpcAdam.Trainer.Training;

/// <summary>
/// A model's parameters as one contiguous float32 buffer, the layout the optimizer and the
/// all-reduce work on, in the order of <c>parameters()</c>.
/// </summary>
internal sealed class FlatParameters : IDisposable
{
    private readonly nn.Module _model;

    public FlatParameters(nn.Module model)
    {
        _model = model;
        using (no_grad())
            Weights = cat(model.parameters().Select(p => p.detach().flatten()).ToArray()).contiguous();
    }

    /// <summary>The flat weights; the optimizer updates them in place, then <see cref="CopyToModel"/> publishes them.</summary>
    public Tensor Weights { get; }

    public long Count => Weights.numel();

    public void CopyToModel()
    {
        using var _ = no_grad();
        long offset = 0;
        foreach (var parameter in _model.parameters())
        {
            parameter.copy_(Weights.narrow(0, offset, parameter.numel()).view_as(parameter));
            offset += parameter.numel();
        }
    }

    /// <summary>Writes the model's current gradients, in the flat layout, into <paramref name="destination"/>.</summary>
    public void CopyGradientsInto(Tensor destination)
    {
        long offset = 0;
        foreach (var parameter in _model.parameters())
        {
            using Tensor slice = destination.narrow(0, offset, parameter.numel());
            if (parameter.grad is { } gradient)
                slice.copy_(gradient.flatten());
            else
                slice.zero_();
            offset += parameter.numel();
        }
    }

    public void Dispose() => Weights.Dispose();
}
