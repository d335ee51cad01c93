using System.Globalization;
using System.Text.Json;
using HpcAdam.Training;

namespace HpcAdam.Trainer.Bench;

/// <summary>
/// PyTorch's side of `hpcadam bench step`: bench_step_peer.py, embedded in this assembly so that a
/// published hpcadam carries it too, written into the bench's temporary folder and run by a Python
/// that imports torch. One process times every case (torch is imported once) and prints one JSON
/// line per case, in the order of the cases.
/// </summary>
internal sealed class PyTorchStepPeer
{
    public const string ScriptResource = "bench_step_peer.py";

    /// <summary>Tried in this order when --python is not given: the first that imports torch is used.</summary>
    public static readonly string[] DefaultInterpreters = ["python3", "/usr/bin/python3"];

    private PyTorchStepPeer(string interpreter, string torchVersion) => (Interpreter, TorchVersion) = (interpreter, torchVersion);

    public string Interpreter { get; }
    public string TorchVersion { get; }

    /// <summary>What the peer ran on, from its first line (a GPU's name, or cpu).</summary>
    public string DeviceName { get; private set; } = "";

    /// <summary>The interpreter given, or the first default that imports torch; null and the reason when none does.</summary>
    public static PyTorchStepPeer? Find(string? given, out string? problem)
    {
        var failures = new List<string>();
        foreach (string interpreter in given is null ? DefaultInterpreters : [given])
        {
            (int exitCode, List<string> stdout, List<string> stderr) = ChildCommand.Run(interpreter, ["-c", "import torch; print(torch.__version__)"]);
            if (exitCode == 0 && stdout.Count > 0)
            {
                problem = null;
                return new PyTorchStepPeer(interpreter, stdout[^1].Trim());
            }
            failures.Add($"{interpreter}: {stderr.LastOrDefault(line => line.Trim().Length > 0)?.Trim() ?? $"exit {exitCode}"}");
        }
        problem = $"no Python that imports torch ({string.Join("; ", failures)}): install PyTorch (Debian: apt-get install python3-torch) or pass --python";
        return null;
    }

    /// <summary>Times every case; a case the script could not run, or did not reach, is refused with the reason.</summary>
    public List<PeerOutcome> Run(IReadOnlyList<StepBenchCase> cases, StepBenchOptions options, int threads, string workDirectory,
        Action<string> progress)
    {
        string script = Path.Combine(workDirectory, ScriptResource);
        using (Stream resource = typeof(PyTorchStepPeer).Assembly.GetManifestResourceStream(ScriptResource)
                                 ?? throw new InvalidOperationException($"{ScriptResource} is not embedded in {typeof(PyTorchStepPeer).Assembly.GetName().Name}"))
        using (FileStream file = File.Create(script))
            resource.CopyTo(file);

        var outcomes = new List<PeerOutcome>();
        string[] arguments =
        [
            script, "--models", string.Join(',', options.Models), "--configs", string.Join(',', options.Configs),
            "--precisions", string.Join(',', options.Precisions), "--steps", options.TotalSteps.ToString(CultureInfo.InvariantCulture),
            "--steady-steps", options.SteadySteps.ToString(CultureInfo.InvariantCulture), "--device", options.Device, "--threads", threads.ToString(CultureInfo.InvariantCulture),
        ];
        (int exitCode, _, List<string> stderr) = ChildCommand.Run(Interpreter, arguments, line =>
        {
            // The script's rows are JSON objects; anything else on stdout (a library's notice) is not a row.
            if (!line.StartsWith('{'))
                return;
            using JsonDocument document = JsonDocument.Parse(line);
            JsonElement json = document.RootElement;
            if (json.TryGetProperty("torch", out _))
            {
                DeviceName = json.GetProperty("device").GetString()!;
                return;
            }
            PeerOutcome outcome = Parse(json);
            StepBenchCase benchCase = cases[outcomes.Count];
            progress(StepBenchRow.Progress("pytorch", benchCase, outcome));
            outcomes.Add(outcome);
        });
        string ended = $"the PyTorch peer ended (exit {exitCode}) before this case: {stderr.LastOrDefault(line => line.Trim().Length > 0)?.Trim() ?? "no message"}";
        while (outcomes.Count < cases.Count)
            outcomes.Add(PeerOutcome.Refused(ended));
        return outcomes;
    }

    private static PeerOutcome Parse(JsonElement row)
    {
        if (row.TryGetProperty("error", out JsonElement error))
            return PeerOutcome.Refused(error.GetString()!);
        JsonElement ms = row.GetProperty("ms");
        var phases = new PhaseTimes(ms.GetProperty("compute").GetDouble(), 0, ms.GetProperty("optim").GetDouble(), 0, ms.GetProperty("other").GetDouble());
        return PeerOutcome.Timed(new PeerTiming(phases, ms.GetProperty("total").GetDouble(), row.GetProperty("parameters").GetInt64(),
            $"torch.optim.Adam {row.GetProperty("adam").GetString()}"));
    }
}
