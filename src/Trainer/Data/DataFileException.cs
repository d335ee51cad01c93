namespace HpcAdam.Trainer.Data;

/// <summary>
/// A data file that cannot be used. The message is one line: the file, what is wrong with it,
/// and what to do about it (usually which scripts/fetch-data.sh command writes it again).
/// </summary>
internal sealed class DataFileException : Exception
{
    public DataFileException(string path, string problem, string remedy)
        : base($"{path}: {problem}; {remedy}")
    {
        Path = path;
    }

    public string Path { get; }
}
