using System.Runtime.InteropServices;

namespace HpcAdam.Trainer.Doctor;

/// <summary>The C library's dynamic-loader calls that .NET does not wrap.</summary>
internal static partial class LibcNativeMethods
{
    /// <summary>The address of <paramref name="symbol"/> at <paramref name="version"/> in a loaded library, or zero.</summary>
    [LibraryImport("libc.so.6", EntryPoint = "dlvsym", StringMarshalling = StringMarshalling.Utf8)]
    internal static partial IntPtr DlVSym(IntPtr handle, string symbol, string version);
}
