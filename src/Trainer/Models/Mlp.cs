using static TorchSharp.torch;

namespace HpcAdam.Trainer.Models;

/// <summary>A multilayer perceptron on flattened images: Linear → ReLU for each hidden width, then Linear to the classes.</summary>
internal static class Mlp
{
    public static nn.Module<Tensor, Tensor> Create(long inputs, IReadOnlyList<int> hidden, int classes)
    {
        var layers = new List<(string, nn.Module<Tensor, Tensor>)> { ("flatten", nn.Flatten()) };
        long width = inputs;
        for (int i = 0; i < hidden.Count; i++)
        {
            layers.Add(($"hidden{i}", nn.Linear(width, hidden[i])));
            layers.Add(($"relu{i}", nn.ReLU()));
            width = hidden[i];
        }
        layers.Add(("out", nn.Linear(width, classes)));
        return nn.Sequential(layers);
    }
}
