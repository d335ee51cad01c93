namespace HpcAdam.Tests;

/// <summary>
/// scripts/device-check.sh's first half, the part a machine without a GPU can prove: the bundle it
/// prepares fits the 64 MiB a device run may carry, carries no libtorch of its own, and runs hpcadam
/// with a libtorch it finds on the library path, as it will with PyTorch's on the GPU machine
/// (here the CPU libtorch from the package cache stands for it).
/// </summary>
[TestFixture]
public sealed class DeviceCheckTests() : TemporaryDirectoryTest("hpcadam-device-check-")
{
    private static readonly TimeSpan s_deadline = TimeSpan.FromMinutes(5);

    [Test]
    public void ThePreparedBundleRunsWithALibtorchItDoesNotCarry()
    {
        ProcessOutcome prepare = ChildProcess.Run(Path.Combine(ChildProcess.RepoRoot, "scripts", "device-check.sh"), ["prepare", TestDirectory], null, s_deadline);
        Assert.That(prepare.ExitCode, Is.Zero, prepare.ToString());
        string archive = Path.Combine(TestDirectory, "device-check.tar.xz");
        Assert.That(new FileInfo(archive).Length, Is.LessThan(64L << 20));

        string unpacked = Path.Combine(TestDirectory, "there");
        Directory.CreateDirectory(unpacked);
        Assert.That(ChildProcess.Run("tar", ["-xJf", archive, "-C", unpacked], null, s_deadline).ExitCode, Is.Zero);
        string bundle = Path.Combine(unpacked, "device-check"), hpcadam = Path.Combine(bundle, "hpcadam", "hpcadam");
        Assert.That(Directory.GetFiles(bundle, "libtorch*.so", SearchOption.AllDirectories), Is.Empty, "the bundle must borrow the machine's libtorch");

        // No package cache to fall back on, as on the GPU machine: without a libtorch on the path it cannot start, with one it is ready.
        string libtorch = Path.Combine(ChildProcess.Metadata("NuGetPackageRoot"), "libtorch-cpu-linux-x64", "2.10.0", "runtimes", "linux-x64", "native");
        var noCache = new Dictionary<string, string> { ["NUGET_PACKAGES"] = Path.Combine(TestDirectory, "no-cache") };
        ProcessOutcome without = ChildProcess.Run(hpcadam, ["doctor"], noCache, s_deadline);
        Assert.That(without.ExitCode, Is.Not.Zero, without.ToString());
        ProcessOutcome with = ChildProcess.Run(hpcadam, ["doctor"], new Dictionary<string, string>(noCache) { ["LD_LIBRARY_PATH"] = libtorch }, s_deadline);
        Assert.That(with.ExitCode, Is.Zero, with.ToString());
        Assert.That(with.Stdout, Does.Contain("libtorch 2.10").And.Contain("verdict: ready to train on 1 rank(s)"), with.ToString());

        ProcessOutcome usage = ChildProcess.Run(Path.Combine(bundle, "device-check.sh"), [], null, s_deadline);
        Assert.That((usage.ExitCode, usage.Stderr.Trim()), Is.EqualTo((2, "usage: scripts/device-check.sh prepare [DIR] | ./device-check.sh run|buckets (on the GPU machine)")));
    }
}
