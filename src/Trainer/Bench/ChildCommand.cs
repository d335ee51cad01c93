using System.ComponentModel;
using System.Diagnostics;

namespace HpcAdam.Trainer.Bench;

/// <summary>A program a benchmark runs to its end: the PyTorch peer of `bench step`, the launcher of `bench scaling`.</summary>
internal static class ChildCommand
{
    /// <summary>
    /// Runs <paramref name="file"/> with this process's environment and <paramref name="environment"/> on top, handing each
    /// stdout line to <paramref name="onLine"/> as it comes; a program that cannot start is exit 127.
    /// </summary>
    public static (int ExitCode, List<string> Stdout, List<string> Stderr) Run(string file, IEnumerable<string> arguments,
        Action<string>? onLine = null, IReadOnlyDictionary<string, string>? environment = null)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string argument in arguments)
            start.ArgumentList.Add(argument);
        foreach ((string name, string value) in environment ?? new Dictionary<string, string>())
            start.Environment[name] = value;
        List<string> stdout = [], stderr = [];
        Process process;
        try
        {
            process = Process.Start(start)!;
        }
        catch (Win32Exception error)
        {
            return (127, stdout, [error.Message]);
        }
        using (process)
        {
            process.ErrorDataReceived += (_, e) =>
            {
                if (e.Data is not null)
                    lock (stderr)
                        stderr.Add(e.Data);
            };
            process.BeginErrorReadLine();
            while (process.StandardOutput.ReadLine() is { } line)
            {
                stdout.Add(line);
                onLine?.Invoke(line);
            }
            // After the end of stdout, this also waits for the end of stderr's asynchronous reads.
            process.WaitForExit();
            return (process.ExitCode, stdout, stderr);
        }
    }
}
