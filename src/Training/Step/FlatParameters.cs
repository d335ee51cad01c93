using HpcAdam.Optim;
using static TorchSharp.torch;

namespace HpcAdam.Training;

/// <summary>
/// A model whose parameters and gradients live in two contiguous float32 buffers (docs/ALGORITHMS.md,
/// "The step"), so the step sums and communicates them as one: every parameter is a view into <see cref="Weights"/> and its gradient a view into
/// <see cref="Gradients"/>, in the order of <c>named_parameters()</c>. The optimizer updates the
/// weights in place and backward accumulates into the gradient views, so nothing is ever copied
/// between the model and the flat layout.
/// <para>With a bfloat16 forward and backward (<see cref="ComputePrecision"/>), <see cref="Weights"/> are the float32
/// master weights the optimizer updates and the bfloat16 parameters are views of a second block,
/// <see cref="LowWeights"/>, with their gradients in <see cref="LowGradients"/>. Those parameters come first in
/// the layout and the float32 ones (batchnorm's) after them, so widening the gradients after backward
/// and rounding the weights after the optimizer are one operation each.</para>
/// </summary>
internal sealed class FlatParameters : IDisposable
{
    /// <summary>The parameters of <paramref name="model"/>, which trains in <paramref name="precision"/> (float32 by default).</summary>
    public FlatParameters(nn.Module model, ScalarType precision = ScalarType.Float32)
    {
        // The float32 values, before a bfloat16 model is converted (which would round them).
        var masters = model.named_parameters().ToDictionary(entry => entry.name,
            entry => precision == ScalarType.Float32 ? entry.parameter : entry.parameter.detach().clone());
        ComputePrecision.Apply(model, precision);
        // Stable: among themselves, both groups keep named_parameters() order.
        var named = model.named_parameters().OrderBy(entry => entry.parameter.dtype == ScalarType.Float32 ? 1 : 0).ToList();
        Count = named.Sum(entry => entry.parameter.numel());
        LowCount = named.Where(entry => entry.parameter.dtype != ScalarType.Float32).Sum(entry => entry.parameter.numel());
        // On the model's device: the CPU, or this rank's GPU.
        Device device = named.Count > 0 ? named[0].parameter.device : CPU;
        Weights = zeros(Count, device: device);
        Gradients = zeros(Count, device: device);
        LowWeights = LowCount > 0 ? zeros(LowCount, precision, device) : null;
        LowGradients = LowCount > 0 ? zeros(LowCount, precision, device) : null;
        var slices = new List<ParameterSlice>();
        long offset = 0;
        using (no_grad())
        {
            foreach ((string name, var parameter) in named)
            {
                var slice = new ParameterSlice(name, offset, parameter.shape);
                bool low = offset < LowCount;
                using Tensor master = View(Weights, slice), weights = low ? View(LowWeights!, slice) : View(Weights, slice),
                    gradient = low ? View(LowGradients!, slice) : View(Gradients, slice);
                master.copy_(masters[name]);
                weights.copy_(master);
                parameter.set_(weights);
                // Backward adds into an existing gradient in place, so it lands in the flat buffer.
                parameter.grad = gradient;
                slices.Add(slice);
                offset += slice.Count;
            }
        }
        if (precision != ScalarType.Float32)
            foreach (Tensor copy in masters.Values)
                copy.Dispose();
        Slices = slices;
    }

    /// <summary>The float32 weights the optimizer updates: the parameters themselves, or the master copy of bfloat16 ones.</summary>
    public Tensor Weights { get; }

    /// <summary>The gradient of the last backward pass, in float32; <see cref="ZeroGradients"/> before each micro-batch.</summary>
    public Tensor Gradients { get; }

    public long Count { get; }

    /// <summary>Parameters trained in bfloat16: the first <see cref="LowCount"/> elements of the layout (0 in float32).</summary>
    public long LowCount { get; }

    /// <summary>The bfloat16 parameters the forward pass uses, rounded from <see cref="Weights"/>; null in float32.</summary>
    public Tensor? LowWeights { get; }

    /// <summary>Where backward leaves the bfloat16 parameters' gradients; null in float32.</summary>
    public Tensor? LowGradients { get; }

    /// <summary>Each parameter's name and place in the flat buffers: the tensor names of saved files.</summary>
    public IReadOnlyList<ParameterSlice> Slices { get; }

    public void ZeroGradients()
    {
        Gradients.zero_();
        LowGradients?.zero_();
    }

    /// <summary>After backward: the bfloat16 gradients into <see cref="Gradients"/>, widened to float32.</summary>
    public void WidenGradients()
    {
        if (LowGradients is not null)
            Gradients.narrow(0, 0, LowCount).copy_(LowGradients);
    }

    /// <summary>After the weights changed (the optimizer, a broadcast, a checkpoint): the bfloat16 parameters rounded from them.</summary>
    public void RoundLowWeights()
    {
        if (LowWeights is not null)
            LowWeights.copy_(Weights.narrow(0, 0, LowCount));
    }

    /// <summary>A view of the slice of a flat buffer (weights, m, v, ...) in the parameter's shape.</summary>
    public static Tensor View(Tensor flat, ParameterSlice slice) => flat.narrow(0, slice.Offset, slice.Count).view(slice.Shape);

    public void Dispose()
    {
        Weights.Dispose();
        Gradients.Dispose();
        LowWeights?.Dispose();
        LowGradients?.Dispose();
    }
}
