using System.Reflection;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;
using HpcAdam.Optim;
using HpcAdam.Optim.Cuda;

namespace HpcAdam.Tests.Optim;

/// <summary>
/// FusedKernels.cu where no GPU is: compiled as C++ with CUDA's built-ins emulated
/// (cuda_kernel_emulation.cpp) and run thread by thread, each kernel gives the host pass's bits,
/// over the float4 path and its tail, the scalar path of an unaligned buffer, and grids smaller
/// and larger than the work; and the source holds what the launcher looks up. It proves the
/// kernels' indexing and arithmetic, not NVRTC, the driver or the GPU.
/// </summary>
[TestFixture]
public sealed unsafe class FusedGpuKernelSourceTests() : TemporaryDirectoryTest("hpcadam-kernels-")
{
    // Many float4 turns per thread at the small grid, and a tail of 3 elements.
    private const int Length = 5 * (1 << 15) + 13;

    private static readonly (uint Grid, uint Block)[] s_grids = [(3, 32), (2000, 256)];

    private IntPtr _emulation;

    [SetUp]
    public void BuildTheEmulation()
    {
        string library = Path.Combine(TestDirectory, "libcuda_kernel_emulation.so");
        ProcessOutcome compile = ChildProcess.Run("g++", ["-shared", "-fPIC", "-O1", "-ffp-contract=off", "-Wall", "-Wno-unknown-pragmas", "-Werror",
            "-I", Path.Combine(ChildProcess.RepoRoot, "src", "Optim", "Cuda"), "-o", library,
            Path.Combine(ChildProcess.RepoRoot, "tests", "HpcAdam.Tests", "Optim", "cuda_kernel_emulation.cpp")], environment: null, TimeSpan.FromMinutes(1));
        Assert.That(compile.ExitCode, Is.Zero, compile.ToString());
        _emulation = NativeLibrary.Load(library);
    }

    [TearDown]
    public void UnloadTheEmulation() => NativeLibrary.Free(_emulation);

    [TestCase(SecondMomentSource.MeanOfSquares, false, false)]
    [TestCase(SecondMomentSource.MeanOfSquares, true, false)]
    [TestCase(SecondMomentSource.SquareOfMean, false, false)]
    [TestCase(SecondMomentSource.MeanOfSquares, false, true)]
    public void TheAdamKernelGivesTheHostPassesBits(SecondMomentSource source, bool epsilonInsideSqrt, bool unalignedS1)
    {
        var effective = new AdamHyperparameters(LearningRate: 1e-2, Gamma1: 0.1, Gamma2: 0.01, Epsilon: 1e-6, WeightDecay: 0.01, EpsilonInsideSqrt: epsilonInsideSqrt);
        AdamStepCoefficients c = AdamStepCoefficients.For(effective, kappa: 3, c1: 0.9 * 0.9, c2: 0.99 * 0.99, source);
        var emulate = (delegate* unmanaged<uint, uint, float*, float*, float*, float*, float*, AdamKernelScalars, long, void>)
            NativeLibrary.GetExport(_emulation, "emulate_adam_step");
        foreach ((uint grid, uint block) in s_grids)
        {
            using Buffers host = Buffers.Random(5, unalignedS1 ? 3 : null, signed: [0, 1, 3]), device = host.Copy();
            FusedAdamKernel.Step(host.Span(0), host.Span(1), host.Span(2), host.Span(3), source == SecondMomentSource.MeanOfSquares ? host.Span(4) : [], c, maxThreads: 1);
            emulate(grid, block, device[0], device[1], device[2], device[3], source == SecondMomentSource.MeanOfSquares ? device[4] : null,
                AdamKernelScalars.From(c), Length);
            AssertSameBits(device, host, written: 3, $"grid {grid} × {block}");
        }
    }

    [TestCase(false)]
    [TestCase(true)]
    public void TheAdaGradKernelGivesTheHostPassesBits(bool epsilonInsideSqrt)
    {
        var effective = new AdamHyperparameters(LearningRate: 1e-2, Epsilon: 1e-6, WeightDecay: 0.01, EpsilonInsideSqrt: epsilonInsideSqrt);
        var emulate = (delegate* unmanaged<uint, uint, float*, float*, float*, AdaGradKernelScalars, long, void>)NativeLibrary.GetExport(_emulation, "emulate_adagrad_step");
        foreach ((uint grid, uint block) in s_grids)
        {
            using Buffers host = Buffers.Random(3, unaligned: null, signed: [0, 2]), device = host.Copy();
            FusedAdaGradKernel.Step(host.Span(0), host.Span(1), host.Span(2), kappa: 3, effective, maxThreads: 1);
            emulate(grid, block, device[0], device[1], device[2], AdaGradKernelScalars.From(3, effective), Length);
            AssertSameBits(device, host, written: 2, $"grid {grid} × {block}");
        }
    }

    [Test]
    public void TheScaledDescentAndAccumulationKernelsGiveTheHostPassesBits()
    {
        var effective = new AdamHyperparameters(LearningRate: 1e-2, WeightDecay: 0.01);
        var descend = (delegate* unmanaged<uint, uint, float*, float*, float, float, long, void>)NativeLibrary.GetExport(_emulation, "emulate_scaled_descent");
        var accumulate = (delegate* unmanaged<uint, uint, float*, float*, float*, long, void>)NativeLibrary.GetExport(_emulation, "emulate_accumulate");
        foreach ((uint grid, uint block) in s_grids)
        {
            using Buffers host = Buffers.Random(3, unaligned: 2, signed: [0, 2]), device = host.Copy();
            FusedAdaGradKernel.ScaledDescent(host.Span(0), host.Span(1), effective, 0.3, maxThreads: 1);
            descend(grid, block, device[0], device[1], (float)(1 - 1e-2 * 0.01), 0.3f, Length);
            AssertSameBits(device, host, written: 1, $"descent, grid {grid} × {block}");

            using var s1 = TorchSharp.torch.tensor(host.Span(0).ToArray());
            using var s2 = TorchSharp.torch.tensor(host.Span(1).ToArray());
            using var g = TorchSharp.torch.tensor(host.Span(2).ToArray());
            MicroBatchAccumulation.Add(g, s1, s2, maxThreads: 1);
            accumulate(grid, block, device[0], device[1], device[2], Length);
            Assert.That((MemoryMarshal.AsBytes(device.Span(0)).ToArray(), MemoryMarshal.AsBytes(device.Span(1)).ToArray()),
                Is.EqualTo((s1.bytes.ToArray(), s2.bytes.ToArray())), $"accumulation, grid {grid} × {block}");
        }
    }

    [Test]
    public void TheSourceHoldsEveryEntryPointTheLauncherLooksUp()
    {
        string source = FusedGpuKernels.Source();
        foreach (string name in new[] { FusedGpuKernels.AdamStepName, FusedGpuKernels.AdaGradStepName, FusedGpuKernels.ScaledDescentName, FusedGpuKernels.AccumulateName })
            Assert.That(source, Does.Contain($"extern \"C\" __global__ void {name}("), name);
    }

    [Test]
    public void TheScalarStructsMatchTheSourcesFieldForField()
    {
        string source = FusedGpuKernels.Source();
        Assert.That(FieldNames<AdamKernelScalars>(), Is.EqualTo(SourceFields(source, "AdamScalars")));
        Assert.That(FieldNames<AdaGradKernelScalars>(), Is.EqualTo(SourceFields(source, "AdaGradScalars")));
        Assert.That((sizeof(AdamKernelScalars), sizeof(AdaGradKernelScalars)), Is.EqualTo((11 * 4, 5 * 4)));
    }

    [Test]
    public void TheArchitectureIsTheDevicesOrTheNewestOlderOneAsPtx()
    {
        Assert.That(NvrtcCompilation.Architecture(90, [75, 80, 86, 89, 90]), Is.EqualTo("--gpu-architecture=sm_90"));
        Assert.That(NvrtcCompilation.Architecture(100, [75, 80, 90]), Is.EqualTo("--gpu-architecture=compute_90"));
        Assert.That(() => NvrtcCompilation.Architecture(70, [75, 80]), Throws.InvalidOperationException.With.Message.EqualTo(
            "this NVRTC compiles for compute capabilities 7.5, 8.0, not for the device's 7.0; set HPCADAM_NVRTC_LIBRARY to an NVRTC of the device's CUDA version"));
    }

    private static string[] FieldNames<T>() =>
        [.. typeof(T).GetFields(BindingFlags.Instance | BindingFlags.NonPublic).OrderBy(f => Marshal.OffsetOf<T>(f.Name))
            .Select(f => Regex.Match(f.Name, "<(.+)>").Groups[1].Value).Select(n => char.ToLowerInvariant(n[0]) + n[1..])];

    /// <summary>The field names of `struct NAME { float a, b; int c; };` in the kernels' source, in order.</summary>
    private static string[] SourceFields(string source, string name)
    {
        string body = Regex.Match(source, @"struct " + name + @"\s*\{([^}]*)\}").Groups[1].Value;
        return [.. body.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .SelectMany(declaration => declaration.Split(' ', 2)[1].Split(',', StringSplitOptions.TrimEntries))];
    }

    private static void AssertSameBits(Buffers actual, Buffers expected, int written, string where)
    {
        for (int s = 0; s < written; s++)
            Assert.That(MemoryMarshal.AsBytes(actual.Span(s)).ToArray(), Is.EqualTo(MemoryMarshal.AsBytes(expected.Span(s)).ToArray()), $"stream {s}, {where}");
    }

    /// <summary>
    /// Flat float buffers of <see cref="Length"/> in 64-byte aligned native memory, as a device
    /// allocator gives; the stream <c>unaligned</c> names starts one float later, which sends a
    /// kernel that reads it down its scalar path.
    /// </summary>
    private sealed class Buffers : IDisposable
    {
        private readonly float*[] _allocations;
        private readonly int? _unaligned;

        private Buffers(int count, int? unaligned)
        {
            _allocations = new float*[count];
            for (int s = 0; s < count; s++)
                _allocations[s] = (float*)NativeMemory.AlignedAlloc((nuint)(Length + 1) * sizeof(float), 64);
            _unaligned = unaligned;
        }

        public float* this[int stream] => _allocations[stream] + (stream == _unaligned ? 1 : 0);

        public Span<float> Span(int stream) => new(this[stream], Length);

        /// <summary>The <paramref name="signed"/> streams (weights, m, S1, g) of either sign, the rest positive (v, a, S2).</summary>
        public static Buffers Random(int count, int? unaligned, params int[] signed)
        {
            var buffers = new Buffers(count, unaligned);
            var random = new Random(7);
            for (int s = 0; s < count; s++)
                foreach (ref float x in buffers.Span(s))
                    x = signed.Contains(s) ? (float)(random.NextDouble() * 2 - 1) : (float)random.NextDouble();
            return buffers;
        }

        public Buffers Copy()
        {
            var copy = new Buffers(_allocations.Length, _unaligned);
            for (int s = 0; s < _allocations.Length; s++)
                Span(s).CopyTo(copy.Span(s));
            return copy;
        }

        public void Dispose()
        {
            foreach (float* allocation in _allocations)
                NativeMemory.AlignedFree(allocation);
        }
    }
}
