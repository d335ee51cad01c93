using System.Runtime.InteropServices;

namespace HpcAdam.Trainer;

/// <summary>
/// Open MPI hands each rank's stdout a pseudo-terminal, and .NET's console answers a terminal
/// by sending it keypad control codes, which then land in every job log. A rank's output is a
/// log stream, not an interactive console, so hpcadam writes to file descriptors 1 and 2 with
/// plain write(2) calls. Not a FileStream: on a regular file that writes at its own remembered
/// offset (pwrite), so the lines of a script that shares the file (`hpcadam doctor > log; echo
/// done >> log`) would overwrite each other.
/// </summary>
internal static partial class PlainConsole
{
    public static void Install()
    {
        Console.SetOut(Writer(1));
        Console.SetError(Writer(2));
    }

    private static TextWriter Writer(int descriptor) =>
        TextWriter.Synchronized(new StreamWriter(new DescriptorStream(descriptor)) { AutoFlush = true });

    [LibraryImport("libc.so.6", EntryPoint = "write", SetLastError = true)]
    private static unsafe partial nint Write(int descriptor, byte* buffer, nint count);

    /// <summary>Writes straight to a file descriptor; a reader that went away (`| head`) silences it rather than failing the job.</summary>
    private sealed class DescriptorStream(int descriptor) : Stream
    {
        private const int Interrupted = 4, BrokenPipe = 32;
        private bool _readerGone;

        public override unsafe void Write(ReadOnlySpan<byte> buffer)
        {
            fixed (byte* start = buffer)
            {
                for (nint written = 0; written < buffer.Length && !_readerGone;)
                {
                    nint result = PlainConsole.Write(descriptor, start + written, buffer.Length - written);
                    if (result >= 0)
                        written += result;
                    else if (Marshal.GetLastPInvokeError() == BrokenPipe)
                        _readerGone = true;
                    else if (Marshal.GetLastPInvokeError() != Interrupted)
                        throw new IOException($"writing to file descriptor {descriptor} failed: {Marshal.GetLastPInvokeErrorMessage()}");
                }
            }
        }

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));
        public override void Flush() { }
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
