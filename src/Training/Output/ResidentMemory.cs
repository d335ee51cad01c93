using System.Globalization;

namespace HpcAdam.Training;

/// <summary>
/// This process's peak resident memory (VmHWM in /proc/self/status): what a rank needed at its
/// worst, so a user can tell how many ranks fit in a node's memory. Zero where /proc is missing.
/// </summary>
internal static class ResidentMemory
{
    public static double PeakMiB()
    {
        const string Field = "VmHWM:";
        try
        {
            foreach (string line in File.ReadLines("/proc/self/status"))
                if (line.StartsWith(Field, StringComparison.Ordinal))
                    return long.Parse(line[Field.Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) / 1024.0;
        }
        catch (IOException)
        {
        }
        return 0;
    }
}
