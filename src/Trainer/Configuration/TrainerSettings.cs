using System.ComponentModel;
using System.Globalization;
using HpcAdam.Trainer.Data;

namespace HpcAdam.Trainer.Configuration;

/// <summary>
/// The hpcadam commands' settings: the training library's (<see cref="TrainingSettings"/>) and the
/// sections only the commands have: the built-in models and data sets, the sweep and the probe.
/// </summary>
internal sealed class TrainerSettings : TrainingSettings
{
    public ModelSettings Model { get; set; } = new();
    public DataSettings Data { get; set; } = new();
    public SweepSettings Sweep { get; set; } = new();
    public ProbeSettings Probe { get; set; } = new();

    public static readonly string[] Models = ["mlp", "cnn", "resnet18", "vit"];
    public static readonly string[] DataSets = ["mnist", "fashion-mnist", "cifar10", "synthetic", TrainingData.Npy];

    public static SettingKeys Keys => SettingKeys.Of<TrainerSettings>();

    public override IEnumerable<(string Key, object Value)> ResumeIdentity() =>
    [
        ("Model:Name", Model.Name), ("Model:Hidden", Model.Hidden), ("Model:Norm", Model.Norm), ("Model:PatchSize", Model.PatchSize),
        ("Model:Depth", Model.Depth), ("Model:Width", Model.Width), ("Model:Heads", Model.Heads), ("Data:Name", Data.Name),
        .. base.ResumeIdentity(),
    ];

    /// <summary>The first problem, naming its key; null when the settings can run.</summary>
    public string? Problem() => ModelAndDataProblem(this) ?? SettingsValidation.Problem(this);

    /// <summary>The first problem with the model's name and widths and the data set's name; null when there is none.</summary>
    public static string? ModelAndDataProblem(TrainerSettings settings)
    {
        if (!Models.Contains(settings.Model.Name))
            return $"Model:Name = '{settings.Model.Name}' is not a model: use one of {string.Join(", ", Models)}";
        if (HiddenWidths(settings.Model.Hidden) is null)
            return $"Model:Hidden = '{settings.Model.Hidden}' must be comma-separated positive widths, e.g. 256 or 512,256";
        if (!DataSets.Contains(settings.Data.Name))
            return $"Data:Name = '{settings.Data.Name}' is not a data set: use one of {string.Join(", ", DataSets)}";
        if (!ImageClassificationSet.Placements.Contains(settings.Data.Placement))
            return $"Data:Placement = '{settings.Data.Placement}' is not a placement: use one of {string.Join(", ", ImageClassificationSet.Placements)}";
        return settings.Data.Name == TrainingData.Npy ? TrainingData.NpyProblem(settings.Data) : null;
    }

    public static int[]? HiddenWidths(string text)
    {
        string[] parts = text.Split(',', StringSplitOptions.TrimEntries);
        int[] widths = parts.Select(part => int.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out int width) ? width : 0).ToArray();
        return widths.Length > 0 && widths.All(width => width > 0) ? widths : null;
    }
}

internal sealed class ModelSettings
{
    [Description("mlp, cnn, resnet18 or vit")]
    public string Name { get; set; } = "mlp";

    [Description("MLP hidden widths, comma-separated (512,256 for two layers)")]
    public string Hidden { get; set; } = "256";

    [Description("ResNet-18's normalisation: batchnorm or layernorm")]
    public string Norm { get; set; } = "batchnorm";

    [Description("ViT: side of the square patches; divides the image sides")]
    public int PatchSize { get; set; } = 4;

    [Description("ViT: transformer blocks")]
    public int Depth { get; set; } = 6;

    [Description("ViT: embedding width, a multiple of Heads")]
    public int Width { get; set; } = 192;

    [Description("ViT: attention heads, each with QK-layernorm")]
    public int Heads { get; set; } = 3;
}

internal sealed class DataSettings
{
    [Description("mnist, fashion-mnist, cifar10, synthetic (generated, for runs without data files) or npy (the four .npy files below)")]
    public string Name { get; set; } = "mnist";

    [Description("the folder scripts/fetch-data.sh fills")]
    public string Dir { get; set; } = "data";

    [Description("where the training set lives on a GPU: device (gathered there), host (copied per micro-batch), auto (device when it takes under a quarter of the GPU's free memory)")]
    public string Placement { get; set; } = "auto";

    [Description("npy: the training inputs, one sample a row: float32, or uint8 images [N, C, H, W] or [N, H, W]")]
    public string TrainInputs { get; set; } = "";

    [Description("npy: the training targets, one class label a row: uint8 or int64 [N]")]
    public string TrainTargets { get; set; } = "";

    [Description("npy: the test inputs, rows of the training inputs' type and shape")]
    public string TestInputs { get; set; } = "";

    [Description("npy: the test targets")]
    public string TestTargets { get; set; } = "";

    [Description("npy, uint8 inputs: each channel's mean after scaling to [0, 1], comma-separated, or one for all (MNIST: 0.1307)")]
    public string PixelMean { get; set; } = "0";

    [Description("npy, uint8 inputs: each channel's standard deviation after scaling to [0, 1] (MNIST: 0.3081)")]
    public string PixelStd { get; set; } = "1";
}

internal sealed class SweepSettings
{
    [Description("κ values, comma-separated; B_max = M × the largest (also invariance-probe's)")]
    public string Kappas { get; set; } = "1,2,4,8,16,32";

    [Description("base learning rates η0 at B_max, comma-separated (also invariance-probe's)")]
    public string Lrs { get; set; } = "1e-4,1e-3,1e-2";

    [Description("samples every run trains on; a multiple of B_max")]
    public long Samples { get; set; } = 60000;

    [Description("evaluate, and average the train loss, every N samples; a multiple of B_max dividing Samples")]
    public long EvalEverySamples { get; set; } = 6000;

    [Description("a gap (or probe discrepancy) under this counts as invariant")]
    public double Threshold { get; set; } = 0.1;

    [Description("the sweep's folder; empty = sweeps/<UTC time>; give it again to resume")]
    public string Dir { get; set; } = "";
}

internal sealed class ProbeSettings
{
    [Description("K, micro-batches every compared trajectory consumes; a multiple of every κ")]
    public int MicroBatches { get; set; } = 64;

    [Description("micro-batches of Micro-Adam before the comparison, so the moments have a history")]
    public int Warmup { get; set; } = 256;
}
