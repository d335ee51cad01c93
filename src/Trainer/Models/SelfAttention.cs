using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace HpcAdam.Trainer.Models;

/// <summary>
/// Multi-head self-attention with QK-layernorm (Dehghani et al. 2023; Wortsman et al. 2023): each
/// head's queries and keys pass through a LayerNorm before their dot product. That bounds the
/// attention logits, whose growth otherwise makes the softmax collapse onto one token and the loss
/// diverge at large learning rates, the regime a learning-rate sweep over batch sizes reaches.
/// </summary>
internal sealed class SelfAttention : nn.Module<Tensor, Tensor>
{
    private readonly long _heads;
    private readonly long _headWidth;

    [ComponentName(Name = "qkv")] private readonly Linear _qkv;
    // One LayerNorm over the head width, shared by all heads, as in Dehghani et al.
    [ComponentName(Name = "query_norm")] private readonly LayerNorm _queryNorm;
    [ComponentName(Name = "key_norm")] private readonly LayerNorm _keyNorm;
    [ComponentName(Name = "out")] private readonly Linear _out;

    public SelfAttention(long width, long heads) : base(nameof(SelfAttention))
    {
        _heads = heads;
        _headWidth = width / heads;
        _qkv = nn.Linear(width, 3 * width);
        _queryNorm = nn.LayerNorm(_headWidth);
        _keyNorm = nn.LayerNorm(_headWidth);
        _out = nn.Linear(width, width);
        RegisterComponents();
    }

    /// <summary>[N, T, width] to [N, T, width].</summary>
    public override Tensor forward(Tensor input)
    {
        long batch = input.shape[0], tokens = input.shape[1];
        // [N, T, 3·width] → [3, N, heads, T, head width]: queries, keys and values, head by head.
        Tensor qkv = _qkv.call(input).view(batch, tokens, 3, _heads, _headWidth).permute(2, 0, 3, 1, 4);
        Tensor query = _queryNorm.call(qkv[0]);
        Tensor key = _keyNorm.call(qkv[1]);
        Tensor logits = query.matmul(key.transpose(-2, -1)) / Math.Sqrt(_headWidth);
        Tensor mixed = logits.softmax(-1).matmul(qkv[2]);
        return _out.call(mixed.transpose(1, 2).reshape(batch, tokens, -1));
    }
}
