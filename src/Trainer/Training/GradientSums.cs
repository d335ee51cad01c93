using HpcAdam.Collectives;
using static TorchSharp.torch;

namespace HpcAdam.Trainer.Training;

/// <summary>
/// The step's communication buffer [S1 | S2]: S1 = Σ_k g_k and S2 = Σ_k g_k⊙g_k over this
/// rank's micro-batches, then over all ranks after one all-reduce (ARCHITECTURE.md, "The step").
/// </summary>
internal sealed class GradientSums : IDisposable
{
    private readonly Tensor _gradient;

    public GradientSums(long parameters)
    {
        Buffer = zeros(2 * parameters);
        S1 = Buffer.narrow(0, 0, parameters);
        S2 = Buffer.narrow(0, parameters, parameters);
        _gradient = zeros(parameters);
    }

    public Tensor Buffer { get; }
    public Tensor S1 { get; }
    public Tensor S2 { get; }

    public void Clear() => Buffer.zero_();

    /// <summary>Adds the gradient the model holds now (one micro-batch's) to S1 and its square to S2.</summary>
    public void Accumulate(FlatParameters parameters)
    {
        parameters.CopyGradientsInto(_gradient);
        S1.add_(_gradient);
        S2.addcmul_(_gradient, _gradient, value: 1);
    }

    /// <summary>Sums every rank's buffer: one collective per step, in the same order everywhere.</summary>
    public void Reduce(ICommunicator communicator) => communicator.AllReduceSum(Buffer);

    public void Dispose()
    {
        S1.Dispose();
        S2.Dispose();
        Buffer.Dispose();
        _gradient.Dispose();
    }
}
