using HpcAdam.Collectives;
using static TorchSharp.torch;

namespace HpcAdam.Trainer.Training;

/// <summary>
/// Makes the model's floating-point buffers (batchnorm running means and variances) the
/// average over ranks. Each rank's running statistics have seen only its own micro-batches;
/// before evaluating or saving, every rank must hold the same model. Integer buffers (batchnorm's
/// batch counter) are left alone: they matter only to a batchnorm without momentum, which no
/// model here uses.
/// </summary>
internal static class BufferSynchronization
{
    public static void Average(nn.Module model, ICommunicator communicator)
    {
        Tensor[] buffers = model.buffers().Where(buffer => buffer.is_floating_point()).ToArray();
        if (buffers.Length == 0 || communicator.Size == 1)
            return;
        using var scope = NewDisposeScope();
        Tensor flat = cat(buffers.Select(buffer => buffer.flatten().to(ScalarType.Float32)).ToArray());
        communicator.AllReduceSum(flat);
        flat.div_(communicator.Size);
        long offset = 0;
        using (no_grad())
        {
            foreach (Tensor buffer in buffers)
            {
                buffer.copy_(flat.narrow(0, offset, buffer.numel()).view_as(buffer));
                offset += buffer.numel();
            }
        }
    }
}
