namespace HpcAdam.Training;

/// <summary>
/// A data file that cannot be used. The message is one line: the file, what is wrong with it,
/// and what to do about it (which command writes it again, or how to save it right).
/// </summary>
public sealed class DataFileException : Exception
{
    public DataFileException(string path, string problem, string remedy)
        : base($"{path}: {problem}; {remedy}")
    {
        Path = path;
    }

    public string Path { get; }
}
