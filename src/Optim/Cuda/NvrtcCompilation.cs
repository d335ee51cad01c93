using System.Runtime.InteropServices;
using System.Text;

namespace HpcAdam.Optim.Cuda;

/// <summary>
/// CUDA C source to code a device of compute capability X.Y can load, with NVRTC: a CUBIN for
/// sm_XY where this NVRTC knows the device; where it is older than the device, PTX for the newest
/// architecture it knows, which the driver compiles on for the device when the module loads.
/// Ran on an H200 (docs/running.md, "GPUs").
/// </summary>
internal static unsafe class NvrtcCompilation
{
    /// <summary>The options beside the architecture: no multiply-add contraction, so the kernels round as the host passes do.</summary>
    internal static readonly string[] FixedOptions = ["--fmad=false"];

    /// <summary>The image for cuModuleLoadData (PTX NUL-terminated) and the architecture option it was compiled with.</summary>
    public static (byte[] Image, string Architecture) Compile(string source, string name, int major, int minor)
    {
        string architecture = Architecture(major * 10 + minor, SupportedArchitectures());
        IntPtr program = IntPtr.Zero;
        NvrtcNativeMethods.Check(NvrtcNativeMethods.CreateProgram(out program, source, name, 0, null, null), "nvrtcCreateProgram");
        try
        {
            string[] options = [architecture, .. FixedOptions];
            int compiled = CompileWith(program, options);
            if (compiled == NvrtcNativeMethods.CompilationError)
                throw new InvalidOperationException($"nvrtcCompileProgram failed for {name} ({string.Join(' ', options)}): {Encoding.UTF8.GetString(Read(program, &NvrtcNativeMethods.GetProgramLogSize, &NvrtcNativeMethods.GetProgramLog, "nvrtcGetProgramLog")).TrimEnd('\0', '\n')}");
            NvrtcNativeMethods.Check(compiled, "nvrtcCompileProgram");
            // PTX comes with its NUL, which cuModuleLoadData needs to find the text's end.
            byte[] image = architecture.Contains("sm_")
                ? Read(program, &NvrtcNativeMethods.GetCubinSize, &NvrtcNativeMethods.GetCubin, "nvrtcGetCUBIN")
                : Read(program, &NvrtcNativeMethods.GetPtxSize, &NvrtcNativeMethods.GetPtx, "nvrtcGetPTX");
            return (image, architecture);
        }
        finally
        {
            NvrtcNativeMethods.Check(NvrtcNativeMethods.DestroyProgram(ref program), "nvrtcDestroyProgram");
        }
    }

    /// <summary>
    /// sm_XY when NVRTC lists the device's <paramref name="capability"/> (10·major + minor); else
    /// compute_ZZ for the newest it lists below the device; a device older than all it lists is refused.
    /// </summary>
    internal static string Architecture(int capability, int[] supported)
    {
        if (supported.Contains(capability))
            return $"--gpu-architecture=sm_{capability}";
        int[] older = [.. supported.Where(a => a < capability)];
        if (older.Length == 0)
            throw new InvalidOperationException(
                $"this NVRTC compiles for compute capabilities {string.Join(", ", supported.Select(a => $"{a / 10}.{a % 10}"))}, not for the device's {capability / 10}.{capability % 10}; set {CudaLibraries.NvrtcVariable} to an NVRTC of the device's CUDA version");
        return $"--gpu-architecture=compute_{older.Max()}";
    }

    private static int[] SupportedArchitectures()
    {
        NvrtcNativeMethods.Check(NvrtcNativeMethods.GetNumSupportedArchs(out int count), "nvrtcGetNumSupportedArchs");
        int[] architectures = new int[count];
        fixed (int* first = architectures)
            NvrtcNativeMethods.Check(NvrtcNativeMethods.GetSupportedArchs(first), "nvrtcGetSupportedArchs");
        return architectures;
    }

    private static int CompileWith(IntPtr program, string[] options)
    {
        IntPtr[] texts = [.. options.Select(Marshal.StringToCoTaskMemUTF8)];
        try
        {
            fixed (IntPtr* pointers = texts)
                return NvrtcNativeMethods.CompileProgram(program, texts.Length, (byte**)pointers);
        }
        finally
        {
            foreach (IntPtr text in texts)
                Marshal.FreeCoTaskMem(text);
        }
    }

    /// <summary>One of the program's outputs (CUBIN, PTX, log): its size from <c><paramref name="call"/>Size</c>, then its bytes.</summary>
    private static byte[] Read(IntPtr program, delegate*<IntPtr, out nuint, int> size, delegate*<IntPtr, byte*, int> read, string call)
    {
        NvrtcNativeMethods.Check(size(program, out nuint bytes), call + "Size");
        byte[] output = new byte[checked((int)bytes)];
        fixed (byte* first = output)
            NvrtcNativeMethods.Check(read(program, first), call);
        return output;
    }
}
