using System.Globalization;
using HpcAdam.Trainer.Configuration;
using HpcAdam.Trainer.Models;

namespace HpcAdam.Trainer.Data;

/// <summary>
/// What a built-in model trains and is tested on (Data:Name): the train and test splits as micro-batch
/// sources, the shape of one input and the number of classes. A built-in set is loaded into memory;
/// npy opens four .npy files (Data:TrainInputs, Data:TrainTargets, Data:TestInputs, Data:TestTargets)
/// and reads each micro-batch's rows from them, so the set may be larger than memory.
/// </summary>
internal sealed class TrainingData(IMicroBatchSource train, IMicroBatchSource test, ImageShape shape, int classes) : IDisposable
{
    public const string Npy = "npy";

    public IMicroBatchSource Train { get; } = train;
    public IMicroBatchSource Test { get; } = test;
    public ImageShape Shape { get; } = shape;
    public int Classes { get; } = classes;

    /// <summary>The data the settings name, their keys already checked (<see cref="TrainerSettings.Problem"/>); a bad file is a <see cref="DataFileException"/>.</summary>
    public static TrainingData Load(TrainerSettings settings)
    {
        if (settings.Data.Name == Npy)
            return OpenNpy(settings.Data, settings.Model.Name);
        var train = ImageClassificationSet.Load(settings.Data.Name, settings.Data.Dir, train: true, settings.Train.Seed);
        train.Placement = settings.Data.Placement;
        var test = ImageClassificationSet.Load(settings.Data.Name, settings.Data.Dir, train: false, settings.Train.Seed);
        return new TrainingData(train, test, train.Shape, ImageClassificationSet.ClassCount);
    }

    /// <summary>The first problem with the npy keys, naming the key; null when there is none. Reads no file.</summary>
    public static string? NpyProblem(DataSettings data)
    {
        foreach ((string key, string path) in NpyPaths(data))
            if (string.IsNullOrWhiteSpace(path))
                return $"{key} is not set: Data:Name={Npy} reads the training and the test set from four .npy files, inputs and targets";
        if (data.Placement == "device")
            return $"Data:Placement = device cannot hold Data:Name={Npy}, which is read from its files a micro-batch at a time: use auto or host";
        if (Numbers(data.PixelMean) is not { } means || means.Any(mean => !double.IsFinite(mean)))
            return $"Data:PixelMean = '{data.PixelMean}' must be comma-separated numbers, one for every channel or one for all, e.g. 0.1307";
        if (Numbers(data.PixelStd) is not { } stds || stds.Any(std => !(std > 0 && double.IsFinite(std))))
            return $"Data:PixelStd = '{data.PixelStd}' must be comma-separated positive numbers, one for every channel or one for all, e.g. 0.3081";
        if (means.Length != stds.Length)
            return $"Data:PixelMean = '{data.PixelMean}' and Data:PixelStd = '{data.PixelStd}' must give as many values, one per channel";
        return null;
    }

    private static (string Key, string Path)[] NpyPaths(DataSettings data) =>
        [("Data:TrainInputs", data.TrainInputs), ("Data:TrainTargets", data.TrainTargets), ("Data:TestInputs", data.TestInputs), ("Data:TestTargets", data.TestTargets)];

    private static double[]? Numbers(string text)
    {
        double?[] values = [.. text.Split(',', StringSplitOptions.TrimEntries)
            .Select(part => double.TryParse(part, NumberStyles.Float, CultureInfo.InvariantCulture, out double value) ? value : (double?)null)];
        return values.All(value => value is not null) ? [.. values.Select(value => value!.Value)] : null;
    }

    /// <summary>
    /// The npy set: image rows [C, H, W] or [H, W] (read as one channel) for any model, other rows for
    /// the MLP only; float32 or uint8 inputs, uint8 normalised by Data:PixelMean and Data:PixelStd; the
    /// classes are 1 + the largest label of either split, found in one pass over the targets.
    /// </summary>
    private static TrainingData OpenNpy(DataSettings data, string model)
    {
        foreach ((string key, string path) in NpyPaths(data))
            if (!File.Exists(path))
                throw new SettingsException($"{key} = {path}: no such file");
        NpyHeader inputs = NpyFile.ReadHeader(data.TrainInputs);
        long[] rows = inputs.RowShape;
        if (inputs.DType == TorchSharp.torch.ScalarType.Int64)
            throw new SettingsException($"Data:TrainInputs = {data.TrainInputs} holds int64 rows; the built-in models take float32 or uint8 inputs");
        bool images = rows.Length is 2 or 3;
        if (!images && model != "mlp")
            throw new SettingsException($"Model:Name = {model} takes images, but Data:TrainInputs = {data.TrainInputs} holds rows of [{string.Join(", ", rows)}]: " +
                                        "save images as [N, C, H, W] or [N, H, W], or use Model:Name=mlp");
        long[] sample = rows.Length == 2 ? [1, .. rows] : rows;
        var pixels = new PixelStatistics(Numbers(data.PixelMean)!, Numbers(data.PixelStd)!);
        if (pixels.Channels > 1 && (!images || sample[0] != pixels.Channels))
            throw new SettingsException($"Data:PixelMean and Data:PixelStd give {pixels.Channels} channels, but Data:TrainInputs = {data.TrainInputs} has rows of [{string.Join(", ", rows)}]");

        var train = new NpyMicroBatchSource(data.TrainInputs, data.TrainTargets, pixels, sample);
        NpyMicroBatchSource? test = null;
        try
        {
            test = new NpyMicroBatchSource(data.TestInputs, data.TestTargets, pixels, sample);
            if (test.Inputs.DType != inputs.DType || !test.Inputs.RowShape.SequenceEqual(rows))
                throw new DataFileException(data.TestInputs, $"{test.Inputs}, but the training inputs {data.TrainInputs} are {inputs}",
                    "test rows must have the training rows' type and shape");
            long classes = Math.Max(train.ClassCount(), test.ClassCount());
            var shape = images ? new ImageShape((int)sample[0], (int)sample[1], (int)sample[2]) : new ImageShape(1, 1, checked((int)inputs.RowElements));
            return new TrainingData(train, test, shape, checked((int)classes));
        }
        catch
        {
            train.Dispose();
            test?.Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        (Train as IDisposable)?.Dispose();
        (Test as IDisposable)?.Dispose();
    }
}
