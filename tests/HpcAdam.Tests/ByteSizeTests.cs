using HpcAdam.Trainer.Bench;

namespace HpcAdam.Tests;

public sealed class ByteSizeTests
{
    [TestCase("4", 4L)]
    [TestCase("512K", 512L << 10)]
    [TestCase("64M", 64L << 20)]
    [TestCase("1g", 1L << 30)]
    public void SizesAreReadInPowersOf1024(string text, long bytes)
    {
        Assert.That(ByteSize.TryParse(text, out long parsed), Is.True);
        Assert.That(parsed, Is.EqualTo(bytes));
        Assert.That(ByteSize.TryParse(ByteSize.Format(bytes), out long roundTrip) && roundTrip == bytes, Is.True);
    }

    [TestCase("")]
    [TestCase("M")]
    [TestCase("-4")]
    [TestCase("1.5M")]
    [TestCase("99999999999999999G")]
    public void AnythingElseIsRejected(string text)
    {
        Assert.That(ByteSize.TryParse(text, out _), Is.False);
    }
}
