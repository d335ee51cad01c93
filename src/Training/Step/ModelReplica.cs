using HpcAdam.Collectives;
using static TorchSharp.torch;

namespace HpcAdam.Training;

/// <summary>
/// One rank's copy of the model, kept identical to every other rank's: its parameters and
/// gradients as flat buffers (<see cref="FlatParameters"/>) and its buffers with the rule that
/// merges their changes (<see cref="ModelBuffers"/>). Every micro-batch of a step is computed from
/// the state the step started with, so the step does not depend on how its micro-batches are
/// shared among the ranks.
/// </summary>
internal sealed class ModelReplica : IDisposable
{
    private readonly Func<IReadOnlyList<Tensor>, Tensor> _forward;
    private readonly Func<Tensor, Tensor, Tensor> _loss;

    /// <summary>
    /// The replica of <paramref name="model"/>, trained in <paramref name="precision"/> (Train:Precision; float32 by default):
    /// <paramref name="forward"/> gives its output for a micro-batch's inputs (<see cref="DataParallelTrainer.Forward"/>), <paramref name="loss"/> the mean loss.
    /// </summary>
    public ModelReplica(nn.Module model, Func<IReadOnlyList<Tensor>, Tensor> forward, Func<Tensor, Tensor, Tensor> loss, ScalarType precision = ScalarType.Float32)
    {
        Module = model;
        (_forward, _loss) = (forward, loss);
        Parameters = new FlatParameters(model, precision);
        Buffers = new ModelBuffers(model);
    }

    public nn.Module Module { get; }
    public FlatParameters Parameters { get; }
    public ModelBuffers Buffers { get; }

    /// <summary>Every rank starts from rank 0's weights and buffers, whatever its random state.</summary>
    public void TakeRankZeros(ICommunicator communicator)
    {
        HostView.Broadcast(communicator, Parameters.Weights, root: 0);
        Parameters.RoundLowWeights();
        Buffers.Broadcast(communicator);
    }

    /// <summary>
    /// Forward and backward of <paramref name="microBatch"/>, position <paramref name="position"/> of the
    /// step's κ, from the step's starting state; adds its gradient, squared gradient, loss and buffer
    /// changes to <paramref name="step"/>, weighed by its loss units when it gives them. The gradient stays in
    /// <see cref="FlatParameters.Gradients"/> until the next call.
    /// </summary>
    public void AddMicroBatch(StepBuffer step, MicroBatch microBatch, int position, int kappa)
    {
        using var scope = NewDisposeScope();
        Parameters.ZeroGradients();
        Buffers.BeforeMicroBatch();
        Tensor loss = _loss(_forward(microBatch.Inputs), microBatch.Target);
        loss.backward();
        Parameters.WidenGradients();
        step.Add(Parameters.Gradients, loss.detach(), microBatch.Indices.Length, microBatch.LossUnits);
        Buffers.AddChange(step.BufferChanges, position, kappa);
    }

    /// <summary>
    /// After the step's all-reduce and the optimizer: the bfloat16 weights (if any) are rounded from the
    /// new master weights, and the buffers take every micro-batch's change, or none on a skipped step.
    /// </summary>
    public void EndStep(StepBuffer step, bool skipped)
    {
        Parameters.RoundLowWeights();
        if (skipped)
            Buffers.Revert();
        else
            Buffers.Commit(step.BufferChanges);
    }

    public void Dispose()
    {
        Buffers.Dispose();
        Parameters.Dispose();
    }
}
