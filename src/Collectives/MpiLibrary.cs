namespace HpcAdam.Collectives;

/// <summary>Which MPI the shim was built against, readable before MPI is initialised (for doctor).</summary>
public sealed record MpiLibrary(string Name, int StandardVersion, int StandardSubversion)
{
    private static readonly Lazy<MpiLibrary> s_described = new(Load);

    /// <summary>Describes the MPI library; throws <see cref="DllNotFoundException"/> when the shim or MPI cannot be loaded.</summary>
    public static MpiLibrary Describe() => s_described.Value;

    private static unsafe MpiLibrary Load()
    {
        int version = 0, subversion = 0;
        int code = NativeMethods.ReadString(
            (buffer, length) => NativeMethods.LibraryVersion(buffer, length, out version, out subversion), out string text);
        if (code != 0)
            throw new MpiException("MPI_Get_library_version", rank: -1, code, ErrorString(code));
        string firstLine = text.Split('\n', 2)[0].Trim();
        // Open MPI: "Open MPI v4.1.4, package: ..."; MPICH: "MPICH Version: 4.0.2 ...".
        return new MpiLibrary(OneLine(firstLine.Split(',', 2)[0]), version, subversion);
    }

    public static unsafe string ErrorString(int errorCode)
    {
        NativeMethods.ReadString((buffer, length) =>
        {
            NativeMethods.ErrorString(errorCode, buffer, length);
            return 0;
        }, out string text);
        return OneLine(text);
    }

    /// <summary>MPICH's messages span lines (an error stack) and hold tabs; logs and exceptions want one line.</summary>
    private static string OneLine(string text) =>
        string.Join("; ", text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            .Replace('\t', ' ');
}
