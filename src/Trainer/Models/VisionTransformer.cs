using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace HpcAdam.Trainer.Models;

/// <summary>
/// A Vision Transformer (Dosovitskiy et al. 2021) with QK-layernorm: the image cut into P×P patches,
/// each embedded linearly, plus a learned position embedding; pre-norm transformer blocks; a final
/// LayerNorm; the mean of the tokens; a linear classifier.
/// </summary>
/// <remarks>
/// Mean pooling rather than a class token (as Beyer et al. 2022, "Better plain ViT baselines"): as
/// accurate, one parameter tensor fewer, every token a patch, and every patch's output feeds the loss.
/// </remarks>
internal sealed class VisionTransformer : nn.Module<Tensor, Tensor>
{
    [ComponentName(Name = "patch_embedding")] private readonly Conv2d _patchEmbedding;
    [ComponentName(Name = "position_embedding")] private readonly Parameter _positionEmbedding;
    [ComponentName(Name = "blocks")] private readonly ModuleList<TransformerBlock> _blocks;
    [ComponentName(Name = "norm")] private readonly LayerNorm _norm;
    [ComponentName(Name = "head")] private readonly Linear _head;

    /// <param name="patchSize">Divides the image's height and width.</param>
    /// <param name="width">A multiple of <paramref name="heads"/>.</param>
    public VisionTransformer(ImageShape shape, int classes, int patchSize, int depth, int width, int heads) : base(nameof(VisionTransformer))
    {
        long patches = (long)(shape.Height / patchSize) * (shape.Width / patchSize);
        // A P×P convolution with stride P is a linear map of each patch's C·P·P values.
        _patchEmbedding = nn.Conv2d(shape.Channels, width, kernel_size: patchSize, stride: patchSize);
        // Normal with std 0.02, as timm's ViT: small beside the patch embeddings, so positions are learned, not imposed.
        _positionEmbedding = nn.Parameter(randn(1, patches, width) * 0.02);
        _blocks = nn.ModuleList(Enumerable.Range(0, depth).Select(_ => new TransformerBlock(width, heads)).ToArray());
        _norm = nn.LayerNorm(width);
        _head = nn.Linear(width, classes);
        RegisterComponents();
    }

    public override Tensor forward(Tensor input)
    {
        // [N, C, H, W] → [N, width, H/P, W/P] → [N, T, width], the patches in row-major order.
        Tensor tokens = _patchEmbedding.call(input).flatten(2).transpose(1, 2) + _positionEmbedding;
        foreach (TransformerBlock block in _blocks)
            tokens = block.call(tokens);
        return _head.call(_norm.call(tokens).mean([1L]));
    }
}
