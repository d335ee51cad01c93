using TorchSharp.Modules;
using static TorchSharp.torch.utils;

namespace HpcAdam.Training;

/// <summary>
/// A run's per-step scalars (loss, learning rate, kappa, gradient noise scale, test accuracy) as a
/// TensorBoard event file beside metrics.jsonl, for those who follow their runs in TensorBoard.
/// TorchSharp's own SummaryWriter writes it, so the file is TensorBoard's format as TorchSharp
/// maintains it, not a copy of that format for this project to keep right.
/// </summary>
/// <remarks>
/// Nothing is held back to flush or close: for every value the writer opens the file, appends one
/// event, flushes and closes it, so the value is in the file when <see cref="Add"/> returns, as a line
/// of metrics.jsonl is (and SummaryWriter is not disposable). Its wall times are whole Unix seconds.
/// </remarks>
internal sealed class TensorBoardScalars(string directory)
{
    private readonly SummaryWriter _writer = tensorboard.SummaryWriter(directory);

    /// <summary>
    /// Writes the step's values; one that is null (not measured at this step) or not finite as a
    /// float (TensorBoard stores float32 and cannot plot it) is left out.
    /// </summary>
    public void Add(long step, IEnumerable<(string Tag, double? Value)> scalars)
    {
        // SummaryWriter takes the step as an int: a later step is refused rather than written wrapped around.
        ArgumentOutOfRangeException.ThrowIfNegative(step);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(step, int.MaxValue);
        foreach ((string tag, double? value) in scalars)
        {
            if (value is { } number && float.IsFinite((float)number))
                _writer.add_scalar(tag, (float)number, (int)step);
        }
    }
}
