using HpcAdam.Trainer.Doctor;
using TorchSharp;

namespace HpcAdam.Tests;

/// <summary>The GLIBCXX_3.4.32 fix: TorchSharp loads here, and only the build output's copy was changed.</summary>
public sealed class TorchSharpLoadingTests
{
    private const string LibraryPath = "runtimes/linux-x64/native/libLibTorchSharp.so";

    [Test]
    public void TorchSharpTrainsAStepInThisProcess()
    {
        using var weight = torch.ones(3, requires_grad: true);
        using var loss = (weight * weight).sum();
        loss.backward();
        Assert.That(weight.grad!.data<float>().ToArray(), Is.EqualTo(new[] { 2f, 2f, 2f }));
    }

    [Test]
    public void OnlyTheBuildOutputCopyDiffersFromTheNuGetCacheAndOnlyWhereTheSystemNeedsIt()
    {
        string packaged = Path.Combine(ChildProcess.Metadata("NuGetPackageRoot"), "torchsharp", typeof(torch).Assembly.GetName().Version!.ToString(3), LibraryPath);
        string output = Path.Combine(ChildProcess.HpcadamDirectory, LibraryPath);
        byte[] original = File.ReadAllBytes(packaged);
        byte[] copy = File.ReadAllBytes(output);

        int differingBytes = original.Zip(copy).Count(pair => pair.First != pair.Second);
        Assert.That(copy, Has.Length.EqualTo(original.Length));
        // The fix sets one flag bit in one Vernaux entry, and nothing else.
        Assert.That(differingBytes, Is.EqualTo(LibstdcxxCase.SystemProvidesVersion() ? 0 : 1));
    }
}
