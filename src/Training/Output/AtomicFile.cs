namespace HpcAdam.Training;

/// <summary>Writes files so that a reader never sees half of one: a temporary name, then a rename.</summary>
internal static class AtomicFile
{
    public static void WriteAllText(string path, string contents)
    {
        string fullPath = Path.GetFullPath(path);
        string temporary = $"{fullPath}.tmp.{Environment.ProcessId}";
        try
        {
            File.WriteAllText(temporary, contents);
            File.Move(temporary, fullPath, overwrite: true);
        }
        finally
        {
            File.Delete(temporary);
        }
    }
}
