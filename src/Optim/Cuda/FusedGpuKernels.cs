using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using TorchSharp;
using static HpcAdam.Optim.Cuda.CudaDriverNativeMethods;

namespace HpcAdam.Optim.Cuda;

/// <summary>
/// The optimizer steps and the micro-batch accumulation as ONE CUDA kernel each over flat
/// float32 device buffers (<c>FusedKernels.cu</c>, the host passes' formulas), instead of a chain
/// of tensor operations. Per device and process: compiled once with NVRTC for the device's compute
/// capability, loaded into the device's primary context (the one libtorch's CUDA runtime works
/// in), and launched on the legacy default stream (handle 0), where libtorch queues its own work,
/// so the kernels run in order with TorchSharp's operations and nothing waits for the GPU.
/// Here it is compiled, loaded and launched against probe libraries only; scripts/device-check.sh
/// compares it with the tensor operations on a GPU machine (on an H200: within 1.0e-8).
/// </summary>
internal sealed unsafe class FusedGpuKernels : IWholeBufferUpdate
{
    internal const string SourceName = "FusedKernels.cu";
    internal const string AdamStepName = "hpcadam_adam_step", AdaGradStepName = "hpcadam_adagrad_step",
        ScaledDescentName = "hpcadam_scaled_descent", AccumulateName = "hpcadam_accumulate";

    // 256 threads a block and at most 8 blocks a multiprocessor (2048 threads, a full SM): enough
    // loads in flight to saturate memory; a grid-stride loop covers any count beyond.
    private const int ThreadsPerBlock = 256, BlocksPerMultiprocessor = 8;

    private static readonly ConcurrentDictionary<int, Lazy<FusedGpuKernels>> s_byDevice = new();

    private readonly IntPtr _context, _adamStep, _adaGradStep, _scaledDescent, _accumulate;
    private readonly long _maxBlocks;

    private FusedGpuKernels(IntPtr context, IntPtr module, int multiprocessors, string architecture)
    {
        _context = context;
        using (new CurrentContext(context))
            (_adamStep, _adaGradStep, _scaledDescent, _accumulate) = (Function(module, AdamStepName), Function(module, AdaGradStepName),
                Function(module, ScaledDescentName), Function(module, AccumulateName));
        _maxBlocks = (long)multiprocessors * BlocksPerMultiprocessor;
        Architecture = architecture;
    }

    /// <summary>The NVRTC option the kernels were compiled with (sm_XY, or compute_XY PTX the driver finished).</summary>
    public string Architecture { get; }

    /// <summary>
    /// The kernels for <paramref name="buffer"/>'s device when it is a float32 GPU buffer and the
    /// kernels can be built in this process (<see cref="FusedGpuAvailability"/>); null otherwise.
    /// A failure to compile or load them is an error, not a quiet fallback.
    /// </summary>
    public static FusedGpuKernels? For(torch.Tensor buffer) =>
        buffer.device_type == DeviceType.CUDA && buffer.dtype == torch.ScalarType.Float32 && FusedGpuAvailability.Process.IsAvailable
            ? s_byDevice.GetOrAdd(buffer.device_index, ordinal => new Lazy<FusedGpuKernels>(() => Load(ordinal))).Value
            : null;

    /// <summary>Compiles the kernels for device <paramref name="ordinal"/> (as torch numbers it: after CUDA_VISIBLE_DEVICES) and loads them.</summary>
    internal static FusedGpuKernels Load(int ordinal)
    {
        Check(Init(0), "cuInit");
        Check(DeviceGet(out int device, ordinal), "cuDeviceGet");
        // Retained for the life of the process, as libtorch's runtime retains it.
        Check(DevicePrimaryCtxRetain(out IntPtr context, device), "cuDevicePrimaryCtxRetain");
        (byte[] image, string architecture) = NvrtcCompilation.Compile(Source(), SourceName,
            Attribute(device, ComputeCapabilityMajor), Attribute(device, ComputeCapabilityMinor));
        IntPtr module;
        using (new CurrentContext(context))
        fixed (byte* first = image)
            CheckLoad(ModuleLoadData(out module, first), architecture);
        return new FusedGpuKernels(context, module, Attribute(device, MultiprocessorCount), architecture);
    }

    /// <summary>The kernels' CUDA C source, embedded in this assembly.</summary>
    internal static string Source()
    {
        using Stream stream = typeof(FusedGpuKernels).Assembly.GetManifestResourceStream(SourceName)
            ?? throw new InvalidOperationException($"{SourceName} is not embedded in {typeof(FusedGpuKernels).Assembly.GetName().Name}");
        return new StreamReader(stream).ReadToEnd();
    }

    /// <summary>An Adam step: <see cref="AdamStepCoefficients"/>' formula on every element.</summary>
    public void Adam(torch.Tensor w, torch.Tensor m, torch.Tensor v, torch.Tensor s1, torch.Tensor? s2, in AdamStepCoefficients c)
    {
        long count = w.numel();
        bool meanOfSquares = c.SecondMoment == SecondMomentSource.MeanOfSquares;
        IntPtr pw = Address(w, w, "the weights"), pm = Address(m, w, "m"), pv = Address(v, w, "v"), ps1 = Address(s1, w, "the gradient sum S1"),
            ps2 = meanOfSquares ? Address(s2 ?? throw new ArgumentNullException(nameof(s2)), w, "the squared-gradient sum S2") : IntPtr.Zero;
        var scalars = AdamKernelScalars.From(c);
        void** arguments = stackalloc void*[] { &pw, &pm, &pv, &ps1, &ps2, &scalars, &count };
        Launch(_adamStep, AdamStepName, arguments, count);
    }

    /// <summary>An AdaGrad step on the accumulator a, as <see cref="FusedAdaGradKernel.Step{T}"/>.</summary>
    public void AdaGrad(torch.Tensor w, torch.Tensor accumulator, torch.Tensor s1, int kappa, AdamHyperparameters effective)
    {
        long count = w.numel();
        IntPtr pw = Address(w, w, "the weights"), pa = Address(accumulator, w, "the AdaGrad accumulator"), ps1 = Address(s1, w, "the gradient sum S1");
        var scalars = AdaGradKernelScalars.From(kappa, effective);
        void** arguments = stackalloc void*[] { &pw, &pa, &ps1, &scalars, &count };
        Launch(_adaGradStep, AdaGradStepName, arguments, count);
    }

    /// <summary>AdaGrad-Norm's step, as <see cref="FusedAdaGradKernel.ScaledDescent{T}"/>.</summary>
    public void ScaledDescent(torch.Tensor w, torch.Tensor s1, AdamHyperparameters effective, double scale)
    {
        long count = w.numel();
        IntPtr pw = Address(w, w, "the weights"), ps1 = Address(s1, w, "the gradient sum S1");
        float decay = (float)effective.WeightDecayFactor, scaleOfSum = (float)scale;
        void** arguments = stackalloc void*[] { &pw, &ps1, &decay, &scaleOfSum, &count };
        Launch(_scaledDescent, ScaledDescentName, arguments, count);
    }

    public void Accumulate(torch.Tensor gradient, torch.Tensor s1, torch.Tensor s2)
    {
        long count = gradient.numel();
        IntPtr ps1 = Address(s1, gradient, "S1"), ps2 = Address(s2, gradient, "S2"), pg = Address(gradient, gradient, "the gradient");
        void** arguments = stackalloc void*[] { &ps1, &ps2, &pg, &count };
        Launch(_accumulate, AccumulateName, arguments, count);
    }

    private void Launch(IntPtr function, string name, void** arguments, long count)
    {
        if (count == 0)
            return;
        long quads = (count + 3) / 4, blocks = Math.Min((quads + ThreadsPerBlock - 1) / ThreadsPerBlock, _maxBlocks);
        using (new CurrentContext(_context))
            Check(LaunchKernel(function, (uint)blocks, 1, 1, ThreadsPerBlock, 1, 1, 0, IntPtr.Zero, arguments, null), $"cuLaunchKernel ({name})");
    }

    /// <summary>Where a float32 buffer laid out like <paramref name="like"/> starts on its device: its storage's address plus its offset.</summary>
    private static IntPtr Address(torch.Tensor buffer, torch.Tensor like, string name)
    {
        if (buffer.dtype != torch.ScalarType.Float32 || (buffer.device_type, buffer.device_index) != (like.device_type, like.device_index) || buffer.numel() != like.numel() || !buffer.is_contiguous())
            throw new ArgumentException(
                $"{name} is a {(buffer.is_contiguous() ? "" : "non-")}contiguous {buffer.dtype} buffer on {buffer.device} with {buffer.numel()} elements; the kernel needs contiguous float32 on {like.device} with {like.numel()}");
        return buffer.storage<float>().data_ptr() + (nint)(buffer.storage_offset() * sizeof(float));
    }

    private static int Attribute(int device, int attribute)
    {
        Check(DeviceGetAttribute(out int value, attribute, device), "cuDeviceGetAttribute");
        return value;
    }

    private static IntPtr Function(IntPtr module, string name)
    {
        Check(ModuleGetFunction(out IntPtr function, module, name), $"cuModuleGetFunction ({name})");
        return function;
    }

    /// <summary>A driver older than the NVRTC that compiled the image refuses it: say which way out there is.</summary>
    private static void CheckLoad(int result, string architecture)
    {
        try
        {
            Check(result, $"cuModuleLoadData ({architecture})");
        }
        catch (InvalidOperationException e)
        {
            throw new InvalidOperationException(
                $"{e.Message}; set {CudaLibraries.NvrtcVariable} to an NVRTC no newer than the driver, or {FusedGpuAvailability.Variable}=0 for the tensor operations", e);
        }
    }

    /// <summary>The device's primary context made current on this thread for a few driver calls, and the thread's own context current again after.</summary>
    private readonly ref struct CurrentContext
    {
        private readonly IntPtr _context;

        public CurrentContext(IntPtr context)
        {
            Check(CtxPushCurrent(context), "cuCtxPushCurrent");
            _context = context;
        }

        public void Dispose()
        {
            Check(CtxPopCurrent(out IntPtr popped), "cuCtxPopCurrent");
            if (popped != _context)
                throw new InvalidOperationException($"cuCtxPopCurrent popped context {popped:x}, not the {_context:x} pushed: something else changed this thread's contexts meanwhile");
        }
    }
}

/// <summary>
/// <see cref="AdamStepCoefficients"/> rounded once to float, as the host pass rounds them, field
/// for field the struct AdamScalars of FusedKernels.cu (passed by value).
/// </summary>
[StructLayout(LayoutKind.Sequential)]
internal readonly record struct AdamKernelScalars(float InverseKappa, float Gamma1, float Keep1, float Gamma2, float Keep2,
    float WeightDecayFactor, float StepSize, float InverseBiasCorrection2, float Epsilon, int MeanOfSquares, int EpsilonInsideSqrt)
{
    public static AdamKernelScalars From(in AdamStepCoefficients c) => new(
        (float)c.InverseKappa, (float)c.Gamma1, (float)(1 - c.Gamma1), (float)c.Gamma2, (float)(1 - c.Gamma2),
        (float)c.WeightDecayFactor, (float)c.StepSize, (float)c.InverseBiasCorrection2, (float)c.Epsilon,
        c.SecondMoment == SecondMomentSource.MeanOfSquares ? 1 : 0, c.EpsilonInsideSqrt ? 1 : 0);
}

/// <summary>AdaGrad's scalars rounded once to float, as the host pass rounds them, field for field the struct AdaGradScalars of FusedKernels.cu.</summary>
[StructLayout(LayoutKind.Sequential)]
internal readonly record struct AdaGradKernelScalars(float InverseKappa, float WeightDecayFactor, float LearningRate, float Epsilon, int EpsilonInsideSqrt)
{
    public static AdaGradKernelScalars From(int kappa, AdamHyperparameters effective) => new(
        (float)(1.0 / kappa), (float)effective.WeightDecayFactor, (float)effective.LearningRate, (float)effective.Epsilon, effective.EpsilonInsideSqrt ? 1 : 0);
}
