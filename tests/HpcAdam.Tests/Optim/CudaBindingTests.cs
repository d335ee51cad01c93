using System.Runtime.InteropServices;
using HpcAdam.Optim;
using HpcAdam.Optim.Cuda;
using TorchSharp;

namespace HpcAdam.Tests.Optim;

/// <summary>
/// The fused GPU kernels' native side on a machine without CUDA: the driver and NVRTC
/// declarations, and the whole compile–load–launch sequence, against cuda_abi_probe.c, which
/// exports cuda.h's and nvrtc.h's signatures and records what it receives; and the choice of the
/// tensor operations where the libraries are missing or HPCADAM_FUSED_GPU=0 asks for them.
/// (The kernels on a GPU: scripts/device-check.sh only.)
/// </summary>
[TestFixture]
[NonParallelizable]   // sets process environment variables
public sealed unsafe class CudaBindingTests() : TemporaryDirectoryTest("hpcadam-cuda-")
{
    [TearDown]
    public void ClearTheVariables()
    {
        foreach (string variable in new[] { CudaLibraries.NvrtcVariable, CudaLibraries.DriverVariable, FusedGpuAvailability.Variable })
            Environment.SetEnvironmentVariable(variable, null);
    }

    [Test]
    public void TheLauncherPassesWhatTheCAbisExpect()
    {
        string probe = Probe();
        // The resolver reads the variables at the first call that needs each library: nothing else here uses them.
        Environment.SetEnvironmentVariable(CudaLibraries.NvrtcVariable, probe);
        Environment.SetEnvironmentVariable(CudaLibraries.DriverVariable, probe);
        IntPtr library = NativeLibrary.Load(probe);
        T Seen<T>(string name) where T : unmanaged => ((delegate* unmanaged<T>)NativeLibrary.GetExport(library, name))();
        T SeenAt<T>(string name, int i) where T : unmanaged => ((delegate* unmanaged<int, T>)NativeLibrary.GetExport(library, name))(i);

        // Compiled for the device's 9.0 as a CUBIN, the source under its name, without contraction; loaded in the primary context.
        FusedGpuKernels kernels = FusedGpuKernels.Load(0);
        Assert.That(kernels.Architecture, Is.EqualTo("--gpu-architecture=sm_90"));
        Assert.That(Marshal.PtrToStringUTF8(Seen<IntPtr>("probe_options")), Is.EqualTo("--gpu-architecture=sm_90 --fmad=false"));
        Assert.That(Seen<nuint>("probe_source_length"), Is.EqualTo((nuint)System.Text.Encoding.UTF8.GetByteCount(FusedGpuKernels.Source())));
        Assert.That(Marshal.PtrToStringUTF8(Seen<IntPtr>("probe_program_name")), Is.EqualTo("FusedKernels.cu"));
        Assert.That((Seen<uint>("probe_init_flags"), Seen<int>("probe_depth_at_load"), Seen<int>("probe_context_depth")), Is.EqualTo((0u, 1, 0)));

        // BSI-Adam: five buffer addresses, the scalars by value, a 64-bit count; 132 SMs × 8 blocks of 256 at most; stream 0; the context pushed and popped.
        const long count = 3_000_000;
        using torch.Tensor w = torch.zeros(count), m = torch.zeros(count), v = torch.zeros(count), s1 = torch.zeros(count), s2 = torch.zeros(count);
        AdamStepCoefficients c = AdamStepCoefficients.For(new AdamHyperparameters(1e-3, WeightDecay: 0.1), 4, 0.9, 0.999, SecondMomentSource.MeanOfSquares);
        kernels.Adam(w, m, v, s1, s2, c);
        Assert.That(Seen<nuint>("probe_kernel"), Is.EqualTo((nuint)0));
        Assert.That(Enumerable.Range(0, 5).Select(i => SeenAt<IntPtr>("probe_pointer", i)), Is.EqualTo(new[] { w, m, v, s1, s2 }.Select(Address)));
        Assert.That(Seen<AdamKernelScalars>("probe_scalars"), Is.EqualTo(AdamKernelScalars.From(c)));
        Assert.That(Seen<long>("probe_count"), Is.EqualTo(count));
        Assert.That(Enumerable.Range(0, 3).Select(i => SeenAt<uint>("probe_grid", i)), Is.EqualTo(new uint[] { 132 * 8, 1, 1 }));
        Assert.That(Enumerable.Range(0, 3).Select(i => SeenAt<uint>("probe_block", i)), Is.EqualTo(new uint[] { 256, 1, 1 }));
        Assert.That((Seen<uint>("probe_shared"), Seen<IntPtr>("probe_stream"), Seen<int>("probe_depth_at_launch"), Seen<int>("probe_context_depth")),
            Is.EqualTo((0u, IntPtr.Zero, 1, 0)));

        // Adam reads no S2: a null pointer; a small buffer a small grid; the accumulation its three buffers.
        using torch.Tensor few = torch.zeros(10), fewM = torch.zeros(10), fewV = torch.zeros(10), fewS1 = torch.zeros(10);
        kernels.Adam(few, fewM, fewV, fewS1, null, c with { SecondMoment = SecondMomentSource.SquareOfMean });
        Assert.That((SeenAt<IntPtr>("probe_pointer", 4), Seen<long>("probe_count"), SeenAt<uint>("probe_grid", 0)), Is.EqualTo((IntPtr.Zero, 10L, 1u)));
        kernels.Accumulate(few, fewM, fewV);
        Assert.That((Seen<nuint>("probe_kernel"), SeenAt<IntPtr>("probe_pointer", 0), SeenAt<IntPtr>("probe_pointer", 2)), Is.EqualTo(((nuint)3, Address(fewM), Address(few))));

        // A buffer of another layout is refused before any launch; a driver error names the call and the driver's words.
        using torch.Tensor wide = torch.zeros(10, torch.float64);
        Assert.That(() => kernels.Accumulate(few, wide, fewV), Throws.ArgumentException.With.Message.StartsWith("S1 is a contiguous Float64 buffer on cpu with 10 elements"));
        Assert.That(() => FusedGpuKernels.Load(1), Throws.InvalidOperationException.With.Message.EqualTo("cuDeviceGet failed: invalid device ordinal (CUresult 101)"));
        Assert.That(() => CudaDriverNativeMethods.Check(999, "cuLaunchKernel"), Throws.InvalidOperationException.With.Message.EqualTo("cuLaunchKernel failed: unknown error (CUresult 999)"));
        Assert.That(() => NvrtcNativeMethods.Check(6, "nvrtcCompileProgram"), Throws.InvalidOperationException.With.Message.EqualTo("nvrtcCompileProgram failed: NVRTC_ERROR_COMPILATION (nvrtcResult 6)"));
        Assert.That(FusedGpuAvailability.WhyUnavailable(), Is.Null, "with both libraries loadable the kernels are used");
    }

    [Test]
    public void MissingLibrariesOrTheSwitchChooseTheTensorOperations()
    {
        Environment.SetEnvironmentVariable(CudaLibraries.NvrtcVariable, Path.Combine(TestDirectory, "libnvrtc.so.12"));
        Assert.That(FusedGpuAvailability.WhyUnavailable(), Is.EqualTo(
            $"cannot load NVRTC, the CUDA runtime compiler from {Path.Combine(TestDirectory, "libnvrtc.so.12")} (HPCADAM_NVRTC_LIBRARY)"));
        Environment.SetEnvironmentVariable(CudaLibraries.NvrtcVariable, Probe());
        Environment.SetEnvironmentVariable(CudaLibraries.DriverVariable, Path.Combine(TestDirectory, "libcuda.so.1"));
        Assert.That(FusedGpuAvailability.WhyUnavailable(), Does.StartWith("cannot load the CUDA driver from "));
        Environment.SetEnvironmentVariable(CudaLibraries.DriverVariable, Probe());
        Assert.That(FusedGpuAvailability.WhyUnavailable(), Is.Null);
        Environment.SetEnvironmentVariable(FusedGpuAvailability.Variable, "0");
        Assert.That(FusedGpuAvailability.WhyUnavailable(), Is.EqualTo("HPCADAM_FUSED_GPU=0 is set"));
    }

    [Test]
    public void TheSlowerPathIsAnnouncedOnceWithItsReason()
    {
        var lines = new List<string>();
        var availability = new FusedGpuAvailability(() => "cannot load NVRTC", lines.Add);
        Assert.That((availability.IsAvailable, availability.IsAvailable), Is.EqualTo((false, false)));
        Assert.That(lines, Is.EqualTo(new[] { "HpcAdam.Optim: the GPU optimizer step and micro-batch accumulation run as tensor operations, slower than the fused kernels: cannot load NVRTC" }));
        var quiet = new List<string>();
        Assert.That(new FusedGpuAvailability(() => null, quiet.Add).IsAvailable, Is.True);
        Assert.That(quiet, Is.Empty);
    }

    [Test]
    public void HostBuffersTakeTheHostPassAndOthersTheTensorOperations()
    {
        using torch.Tensor floats = torch.zeros(4), doubles = torch.zeros(4, torch.float64), halves = torch.zeros(4, torch.bfloat16);
        Assert.That((ElementwisePath.For(floats).OnHost, ElementwisePath.For(doubles).OnHost), Is.EqualTo((true, true)));
        Assert.That(ElementwisePath.For(halves).Device, Is.SameAs(WholeTensorUpdate.Instance));
        Assert.That(ElementwisePath.TensorOperations.Device, Is.SameAs(WholeTensorUpdate.Instance));
    }

    private string Probe()
    {
        string probe = Path.Combine(TestDirectory, "libcuda_abi_probe.so");
        if (File.Exists(probe))
            return probe;
        ProcessOutcome compile = ChildProcess.Run("cc", ["-shared", "-fPIC", "-O1", "-Wall", "-Werror", "-o", probe,
            Path.Combine(ChildProcess.RepoRoot, "tests", "HpcAdam.Tests", "Optim", "cuda_abi_probe.c")], environment: null, TimeSpan.FromMinutes(1));
        Assert.That(compile.ExitCode, Is.Zero, compile.ToString());
        return probe;
    }

    private static IntPtr Address(torch.Tensor tensor)
    {
        fixed (byte* first = tensor.bytes)
            return (IntPtr)first;
    }
}
