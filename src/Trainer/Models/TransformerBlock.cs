using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace HpcAdam.Trainer.Models;

/// <summary>
/// A pre-norm transformer block: x + attention(norm1(x)), then x + mlp(norm2(x)), the MLP four times
/// as wide as the block with GELU. Pre-norm keeps the residual stream an identity path, which trains
/// stably without the learning-rate warm-up post-norm needs.
/// </summary>
internal sealed class TransformerBlock : nn.Module<Tensor, Tensor>
{
    private const int MlpRatio = 4;

    [ComponentName(Name = "norm1")] private readonly LayerNorm _norm1;
    [ComponentName(Name = "attention")] private readonly SelfAttention _attention;
    [ComponentName(Name = "norm2")] private readonly LayerNorm _norm2;
    [ComponentName(Name = "mlp")] private readonly Sequential _mlp;

    public TransformerBlock(long width, long heads) : base(nameof(TransformerBlock))
    {
        _norm1 = nn.LayerNorm(width);
        _attention = new SelfAttention(width, heads);
        _norm2 = nn.LayerNorm(width);
        _mlp = nn.Sequential(
            ("fc1", nn.Linear(width, MlpRatio * width)),
            ("gelu", nn.GELU()),
            ("fc2", nn.Linear(MlpRatio * width, width)));
        RegisterComponents();
    }

    public override Tensor forward(Tensor input)
    {
        Tensor attended = input + _attention.call(_norm1.call(input));
        return attended + _mlp.call(_norm2.call(attended));
    }
}
