using HpcAdam.Optim;
using static TorchSharp.torch;

namespace HpcAdam.Training;

/// <summary>
/// A model's weights as safetensors, named as <c>named_parameters()</c> and <c>named_buffers()</c>
/// name them (the README lists each model's names), so any safetensors reader can load them.
/// Written under a temporary name and renamed, so a reader never sees half a file.
/// </summary>
internal static class ModelWeightsFile
{
    public static void Save(string path, nn.Module model, FlatParameters parameters)
    {
        var tensors = parameters.Slices.Select(slice => (slice.Name, FlatParameters.View(parameters.Weights, slice))).ToList();
        string temporary = $"{path}.tmp.{Environment.ProcessId}";
        try
        {
            using (FileStream file = File.Create(temporary))
                SafeTensorsFormat.Write(file, [.. tensors, .. model.named_buffers()],
                    new Dictionary<string, string> { ["format"] = "hpcadam-model/1" });
            File.Move(temporary, path, overwrite: true);
        }
        finally
        {
            File.Delete(temporary);
            tensors.ForEach(entry => entry.Item2.Dispose());
        }
    }
}
