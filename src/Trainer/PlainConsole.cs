using Microsoft.Win32.SafeHandles;

namespace HpcAdam.Trainer;

/// <summary>
/// Open MPI hands each rank's stdout a pseudo-terminal, and .NET's console answers a terminal
/// by sending it keypad control codes, which then land in every job log. A rank's output is a
/// log stream, not an interactive console, so hpcadam writes to file descriptors 1 and 2 as
/// plain streams.
/// </summary>
internal static class PlainConsole
{
    public static void Install()
    {
        Console.SetOut(Writer(1));
        Console.SetError(Writer(2));
    }

    private static TextWriter Writer(int descriptor) =>
        TextWriter.Synchronized(new StreamWriter(new FileStream(new SafeFileHandle(descriptor, ownsHandle: false), FileAccess.Write, bufferSize: 0))
        {
            AutoFlush = true,
        });
}
