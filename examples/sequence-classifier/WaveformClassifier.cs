using TorchSharp.Modules;
using static TorchSharp.torch;

namespace SequenceClassifier;

/// <summary>Two 1-D convolutions, a global average over time and a linear read-out: [N, 1, T] → [N, classes].</summary>
public sealed class WaveformClassifier : nn.Module<Tensor, Tensor>
{
    private readonly Conv1d _first = nn.Conv1d(1, 16, kernel_size: 5, padding: 2);
    private readonly Conv1d _second = nn.Conv1d(16, 32, kernel_size: 5, stride: 2, padding: 2);
    private readonly Linear _readout;

    public WaveformClassifier(int classes) : base(nameof(WaveformClassifier))
    {
        _readout = nn.Linear(32, classes);
        RegisterComponents();
    }

    public override Tensor forward(Tensor input)
    {
        using var scope = NewDisposeScope();
        Tensor hidden = nn.functional.relu(_second.forward(nn.functional.relu(_first.forward(input))));
        return _readout.forward(hidden.mean([2])).MoveToOuterDisposeScope();
    }
}
