using TorchSharp;

namespace HpcAdam.Tests.Training;

/// <summary>Which device a rank takes, from its place on the node and the GPUs it sees, and what is refused before anything runs.</summary>
public sealed class ComputeDeviceTests
{
    [TestCase("auto", 0, 1, 0, "cpu")]
    [TestCase("cpu", 1, 2, 2, "cpu")]
    [TestCase("auto", 0, 2, 2, "cuda:0")]
    [TestCase("auto", 1, 2, 2, "cuda:1")]
    [TestCase("cuda", 3, 4, 8, "cuda:3")]
    [TestCase("CUDA", 1, 1, 4, "cuda:1")]
    public void EachRankTakesTheGpuOfItsLocalRank(string name, int localRank, int localSize, int visibleGpus, string expected)
    {
        (torch.Device? device, string? problem) = ComputeDevice.Select(new DeviceSettings { Name = name }, localRank, localSize, visibleGpus);
        Assert.That(problem, Is.Null);
        Assert.That(device!.ToString(), Is.EqualTo(expected));
    }

    [Test]
    public void MoreRanksThanGpusOnANodeShareThemOnlyWhenAllowed()
    {
        (torch.Device? refused, string? problem) = ComputeDevice.Select(new DeviceSettings { Name = "auto" }, 2, 4, 2);
        Assert.That(refused, Is.Null);
        Assert.That(problem, Is.EqualTo("this node runs 4 ranks and has 2 visible GPU(s): start at most 2 ranks per node, or set Device:Share=true to let ranks share GPUs"));
        Assert.That(Enumerable.Range(0, 4).Select(rank => ComputeDevice.Select(new DeviceSettings { Share = true }, rank, 4, 2).Device!.ToString()),
            Is.EqualTo(new[] { "cuda:0", "cuda:1", "cuda:0", "cuda:1" }));
    }

    [TestCase("auto", "auto", 0, null)]
    [TestCase("cpu", "mpi", 2, null)]
    [TestCase("gpu", "auto", 1, "Device:Name = 'gpu' is not a device: use one of auto, cpu, cuda")]
    [TestCase("auto", "gloo", 1, "Collectives:Backend = 'gloo' is not a backend: use one of auto, mpi, nccl")]
    [TestCase("cuda", "auto", 0, "Device:Name = cuda, but no CUDA device is usable here")]
    [TestCase("cpu", "nccl", 2, "Collectives:Backend = nccl sums tensors on GPUs, and this run trains on the CPU")]
    [TestCase("auto", "nccl", 0, "Collectives:Backend = nccl sums tensors on GPUs, and this run trains on the CPU")]
    public void WhatCannotWorkIsRefusedBeforeMpiStarts(string name, string backend, int visibleGpus, string? expected)
    {
        string? problem = ComputeDevice.Problem(new DeviceSettings { Name = name }, new CollectivesSettings { Backend = backend }, visibleGpus);
        Assert.That(problem, expected is null ? Is.Null : Does.StartWith(expected));
    }

    [Test]
    public void NcclAskedForIsRefusedExactlyWhereItDoesNotLoad()
    {
        string? problem = ComputeDevice.Problem(new DeviceSettings { Name = "cuda" }, new CollectivesSettings { Backend = "nccl" }, visibleGpus: 1);
        if (HpcAdam.Collectives.NcclLibrary.TryGetVersion(out string reason) is null)
            Assert.That(problem, Is.EqualTo($"Collectives:Backend = nccl, but NCCL cannot be used: {reason}; install NCCL or use Collectives:Backend=mpi"));
        else
            Assert.That(problem, Is.Null);
    }
}
