using HpcAdam.Optim;
using static TorchSharp.torch;

namespace HpcAdam.Training;

/// <summary>
/// A model whose parameters and gradients live in two contiguous float32 buffers (docs/ALGORITHMS.md,
/// "The step"), so the step sums and communicates them as one: every parameter is a view into <see cref="Weights"/> and its gradient a view into
/// <see cref="Gradients"/>, in the order of <c>named_parameters()</c>. The optimizer updates the
/// weights in place and backward accumulates into the gradient views, so nothing is ever copied
/// between the model and the flat layout.
/// </summary>
internal sealed class FlatParameters : IDisposable
{
    public FlatParameters(nn.Module model)
    {
        var named = model.named_parameters().ToList();
        Count = named.Sum(entry => entry.parameter.numel());
        // On the model's device: the CPU, or this rank's GPU.
        Device device = named.Count > 0 ? named[0].parameter.device : CPU;
        Weights = zeros(Count, device: device);
        Gradients = zeros(Count, device: device);
        var slices = new List<ParameterSlice>();
        long offset = 0;
        using (no_grad())
        {
            foreach ((string name, var parameter) in named)
            {
                var slice = new ParameterSlice(name, offset, parameter.shape);
                using Tensor weights = View(Weights, slice), gradient = View(Gradients, slice);
                weights.copy_(parameter);
                parameter.set_(weights);
                // Backward adds into an existing gradient in place, so it lands in the flat buffer.
                parameter.grad = gradient;
                slices.Add(slice);
                offset += slice.Count;
            }
        }
        Slices = slices;
    }

    public Tensor Weights { get; }

    /// <summary>The gradient of the last backward pass; <see cref="ZeroGradients"/> before each micro-batch.</summary>
    public Tensor Gradients { get; }

    public long Count { get; }

    /// <summary>Each parameter's name and place in the flat buffers: the tensor names of saved files.</summary>
    public IReadOnlyList<ParameterSlice> Slices { get; }

    public void ZeroGradients() => Gradients.zero_();

    /// <summary>A view of the slice of a flat buffer (weights, m, v, ...) in the parameter's shape.</summary>
    public static Tensor View(Tensor flat, ParameterSlice slice) => flat.narrow(0, slice.Offset, slice.Count).view(slice.Shape);

    public void Dispose()
    {
        Weights.Dispose();
        Gradients.Dispose();
    }
}
