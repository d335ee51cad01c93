using HpcAdam.Trainer.Configuration;
using HpcAdam.Trainer.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace HpcAdam.Tests.Models;

/// <summary>Models as the trainer builds them, from configuration arguments, for the two image shapes of the paper's data sets.</summary>
internal static class ModelBuilder
{
    public const int Classes = 10;
    public static readonly ImageShape Mnist = new(1, 28, 28);
    public static readonly ImageShape Cifar = new(3, 32, 32);

    public static ImageShape Shape(string dataSet) => dataSet == "mnist" ? Mnist : Cifar;

    /// <summary>The model settings of space-separated arguments, e.g. "--Model:Name=vit --Model:Depth=2".</summary>
    public static ModelSettings Settings(string arguments) => SettingsLoader.Load<TrainerSettings>(null, arguments.Split(' ')).Model;

    public static nn.Module<Tensor, Tensor> Build(string arguments, ImageShape shape, long seed = 1)
    {
        torch.manual_seed(seed);
        return ModelFactory.Create(Settings(arguments), shape, Classes);
    }

    public static Tensor Images(int count, ImageShape shape) => torch.randn(count, shape.Channels, shape.Height, shape.Width);

    public static string[] ParameterNames(nn.Module model) => model.named_parameters().Select(named => named.name).ToArray();

    public static long ParameterCount(nn.Module model) => model.parameters().Sum(parameter => parameter.numel());
}
