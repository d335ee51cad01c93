using System.Runtime.InteropServices;

namespace HpcAdam.Trainer.Doctor;

/// <summary>
/// Whether the C++ runtime this process loaded has GLIBCXX_3.4.32, the GCC 13 version that
/// TorchSharp 0.107's libLibTorchSharp.so asks for. Without it (Debian 12 ships GCC 12) the
/// build marks that requirement weak in the output's copy (Directory.Build.targets); with it,
/// the copy is left as shipped.
/// </summary>
internal static class LibstdcxxCase
{
    public const string Version = "GLIBCXX_3.4.32";

    // std::ios_base_library_init(): the one symbol libLibTorchSharp.so needs at that version.
    private const string MarkerSymbol = "_ZSt21ios_base_library_initv";

    public static bool SystemProvidesVersion()
    {
        // The .NET runtime itself links libstdc++, so this finds the copy already loaded.
        if (!NativeLibrary.TryLoad("libstdc++.so.6", out IntPtr handle))
            return false;
        return LibcNativeMethods.DlVSym(handle, MarkerSymbol, Version) != IntPtr.Zero;
    }
}
