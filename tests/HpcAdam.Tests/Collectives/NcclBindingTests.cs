using System.Runtime.InteropServices;
using HpcAdam.Collectives;
using TorchSharp;

namespace HpcAdam.Tests.Collectives;

/// <summary>
/// The NCCL declarations against the C ABI, on a machine without NCCL: nccl_abi_probe.c exports
/// NCCL's functions with nccl.h's signatures and records what it receives, so a wrong width, a
/// struct passed by pointer instead of by value, or a swapped argument shows here. (NCCL itself is
/// exercised only by scripts/device-check.sh on a GPU machine.)
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed unsafe class NcclBindingTests() : TemporaryDirectoryTest("hpcadam-nccl-")
{
    [Test]
    public void TheDeclarationsPassWhatNcclsCAbiExpects()
    {
        string probe = Path.Combine(TestDirectory, "libnccl_abi_probe.so");
        ProcessOutcome compile = ChildProcess.Run("cc", ["-shared", "-fPIC", "-O1", "-Wall", "-Werror", "-o", probe,
            Path.Combine(ChildProcess.RepoRoot, "tests", "HpcAdam.Tests", "Collectives", "nccl_abi_probe.c")], environment: null, TimeSpan.FromMinutes(1));
        Assert.That(compile.ExitCode, Is.Zero, compile.ToString());
        // The resolver reads the variable once, at NCCL's first use in this process: nothing else here uses NCCL.
        Environment.SetEnvironmentVariable(NativeLibraries.NcclVariable, probe);
        try
        {
            IntPtr library = NativeLibrary.Load(probe);
            int Seen(string name) => ((delegate* unmanaged<int>)NativeLibrary.GetExport(library, name))();

            Assert.That(sizeof(NcclUniqueId), Is.EqualTo(128));
            Assert.That(Marshal.SizeOf<NcclUniqueId>(), Is.EqualTo(128));
            Assert.That(NcclNativeMethods.GetVersion(out int version), Is.Zero);
            Assert.That(NcclLibrary.VersionText(version), Is.EqualTo("2.27.3"));

            Assert.That(NcclNativeMethods.GetUniqueId(out NcclUniqueId id), Is.Zero);
            byte[] expected = [.. Enumerable.Range(0, 128).Select(i => (byte)(i * 7 + 3))];
            Assert.That(id.AsSpan().ToArray(), Is.EqualTo(expected));

            // ncclCommInitRank takes the id by value: the probe must see its 128 bytes, then the rank count and the rank.
            Assert.That(NcclNativeMethods.CommInitRank(out IntPtr communicator, 4, id, 2), Is.Zero);
            Assert.That(communicator, Is.EqualTo((IntPtr)0x1234));
            Assert.That(Enumerable.Range(0, 128).Select(i => (byte)((delegate* unmanaged<int, int>)NativeLibrary.GetExport(library, "probe_id_byte"))(i)),
                Is.EqualTo(expected));
            Assert.That((Seen("probe_ranks"), Seen("probe_rank")), Is.EqualTo((4, 2)));

            // A count beyond 2^32 survives as size_t; float32 and sum are nccl.h's 7 and 0; the null stream is null.
            using var buffer = torch.zeros(8);
            void* data = (void*)NcclCommunicator.Address(buffer);
            ulong large = 5_000_000_000;
            nuint count = (nuint)large;
            Assert.That(NcclNativeMethods.AllReduce(data, data, count, NcclNativeMethods.Float32, NcclNativeMethods.Sum, communicator, IntPtr.Zero), Is.Zero);
            Assert.That(((delegate* unmanaged<nuint>)NativeLibrary.GetExport(library, "probe_count"))(), Is.EqualTo(count));
            Assert.That((Seen("probe_type"), Seen("probe_op")), Is.EqualTo((7, 0)));
            Assert.That(((delegate* unmanaged<IntPtr>)NativeLibrary.GetExport(library, "probe_stream"))(), Is.EqualTo(IntPtr.Zero));
            Assert.That((NcclNativeMethods.Float64, NcclNativeMethods.BFloat16, NcclNativeMethods.Average), Is.EqualTo((8, 9, 4)));
            Assert.That(Seen("probe_in_group"), Is.Zero, "a plain ncclAllReduce is outside any group");

            // The step's float32 sums and bfloat16 squares go as one group: ncclGroupStart() and ncclGroupEnd() take nothing.
            using var squares = torch.zeros(8, torch.ScalarType.BFloat16);
            Assert.That(NcclNativeMethods.GroupStart(), Is.Zero);
            void* squaresData = (void*)NcclCommunicator.Address(squares);
            Assert.That(NcclNativeMethods.AllReduce(squaresData, squaresData, 8, NcclNativeMethods.BFloat16, NcclNativeMethods.Sum, communicator, IntPtr.Zero), Is.Zero);
            Assert.That((Seen("probe_in_group"), Seen("probe_type")), Is.EqualTo((1, 9)));
            Assert.That(NcclNativeMethods.GroupEnd(), Is.Zero);
            Assert.That(Seen("probe_group_depth"), Is.Zero);

            // An error names the call, the rank and NCCL's own (static) text.
            int refused = NcclNativeMethods.CommInitRank(out _, 4, id, 5);
            Assert.That(refused, Is.EqualTo(4));
            Assert.That(() => NcclCommunicator.Check(refused, "ncclCommInitRank", 5), Throws.TypeOf<NcclException>().With.Message.EqualTo(
                "ncclCommInitRank failed on rank 5: invalid argument (run with NCCL_DEBUG=WARN for details) (ncclResult_t 4)"));
        }
        finally
        {
            Environment.SetEnvironmentVariable(NativeLibraries.NcclVariable, null);
        }
    }

    [Test]
    public void ATensorsAddressIsItsStorageAtItsOffset()
    {
        using var whole = torch.arange(16, dtype: torch.ScalarType.Float32);
        using var tail = whole.narrow(0, 5, 11);
        fixed (byte* expected = tail.bytes)
            Assert.That(NcclCommunicator.Address(tail), Is.EqualTo((IntPtr)expected));
        using var doubles = torch.arange(16, dtype: torch.ScalarType.Float64).narrow(0, 3, 4);
        fixed (byte* expected = doubles.bytes)
            Assert.That(NcclCommunicator.Address(doubles), Is.EqualTo((IntPtr)expected));
    }
}
