using HpcAdam.Trainer.Configuration;
using static TorchSharp.torch;

namespace HpcAdam.Trainer.Models;

/// <summary>Builds the model that <see cref="ModelSettings"/> names, for images of a given shape.</summary>
internal static class ModelFactory
{
    /// <summary>
    /// The first problem with the keys the named model reads, naming the key; null when it can be
    /// built for <paramref name="shape"/>. Keys of other models are not read, so not checked, and
    /// the name itself and Model:Hidden are checked by <see cref="TrainerSettings.Problem"/>.
    /// </summary>
    public static string? Problem(ModelSettings settings, ImageShape shape) => settings.Name switch
    {
        "resnet18" => ResNetNorms.Parse(settings.Norm) is null
            ? $"Model:Norm = '{settings.Norm}' is not a normalisation: use one of {string.Join(", ", ResNetNorms.Names)}"
            : null,
        "vit" => VisionTransformerProblem(settings, shape),
        _ => null,
    };

    /// <summary>
    /// The model, its parameters drawn from TorchSharp's generator, so the same
    /// <c>manual_seed</c> gives the same weights.
    /// </summary>
    /// <exception cref="ArgumentException">When <see cref="Problem"/> finds one, or the name is not a model.</exception>
    public static nn.Module<Tensor, Tensor> Create(ModelSettings settings, ImageShape shape, int classes)
    {
        if (Problem(settings, shape) is { } problem)
            throw new ArgumentException(problem, nameof(settings));
        return settings.Name switch
        {
            "mlp" => Mlp.Create(shape.Elements, TrainerSettings.HiddenWidths(settings.Hidden)
                ?? throw new ArgumentException($"Model:Hidden = '{settings.Hidden}' is not a list of widths", nameof(settings)), classes),
            "cnn" => SmallCnn.Create(shape, classes),
            "resnet18" => new ResNet18(shape.Channels, classes, ResNetNorms.Parse(settings.Norm)!.Value),
            "vit" => new VisionTransformer(shape, classes, settings.PatchSize, settings.Depth, settings.Width, settings.Heads),
            _ => throw new ArgumentException($"Model:Name = '{settings.Name}' is not a model", nameof(settings)),
        };
    }

    private static string? VisionTransformerProblem(ModelSettings settings, ImageShape shape)
    {
        if (settings.PatchSize < 1)
            return $"Model:PatchSize = {settings.PatchSize} must be at least 1";
        if (shape.Height % settings.PatchSize != 0 || shape.Width % settings.PatchSize != 0)
        {
            string sides = shape.Height == shape.Width ? $"the image side {shape.Height}" : $"the image height {shape.Height} and width {shape.Width}";
            return $"Model:PatchSize = {settings.PatchSize} must divide {sides}";
        }
        if (settings.Depth < 1)
            return $"Model:Depth = {settings.Depth} must be at least 1 (transformer blocks)";
        if (settings.Heads < 1)
            return $"Model:Heads = {settings.Heads} must be at least 1";
        if (settings.Width < 1 || settings.Width % settings.Heads != 0)
            return $"Model:Width = {settings.Width} must be a positive multiple of Model:Heads = {settings.Heads}";
        return null;
    }
}
