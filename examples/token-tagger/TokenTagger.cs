using TorchSharp.Modules;
using static TorchSharp.torch;

namespace TokenTagger;

/// <summary>
/// A per-token tagger of padded sequences, a module of two inputs: tokens [N, L] and their padding
/// mask [N, L] (1 for a real token) → per-token logits [N, L, 2]. Each token's embedding is read
/// beside the mean embedding of its sequence's real tokens, so the mask decides what the sequence is.
/// </summary>
public sealed class SequenceTagger : nn.Module<Tensor, Tensor, Tensor>
{
    private readonly Embedding _embedding;
    private readonly Linear _hidden, _readout;

    public SequenceTagger(int vocabulary, int width) : base(nameof(SequenceTagger))
    {
        _embedding = nn.Embedding(vocabulary, width);
        _hidden = nn.Linear(2 * width, 2 * width);
        _readout = nn.Linear(2 * width, 2);
        RegisterComponents();
    }

    public override Tensor forward(Tensor tokens, Tensor mask)
    {
        using var scope = NewDisposeScope();
        Tensor embedded = _embedding.forward(tokens);                                  // [N, L, D]
        Tensor real = mask.unsqueeze(-1).to(embedded.dtype);                            // [N, L, 1]
        Tensor sequence = (embedded * real).sum(1, keepdim: true) / real.sum(1, keepdim: true);   // [N, 1, D]: padding left out
        Tensor both = cat([embedded, sequence.expand_as(embedded)], -1);
        return _readout.forward(nn.functional.relu(_hidden.forward(both))).MoveToOuterDisposeScope();
    }
}
