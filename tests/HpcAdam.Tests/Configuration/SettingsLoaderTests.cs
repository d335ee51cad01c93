using HpcAdam.Trainer.Configuration;

namespace HpcAdam.Tests.Configuration;

/// <summary>JSON, then HPCADAM__ environment variables, then --Section:Key=value; unknown keys and bad values are errors.</summary>
[NonParallelizable]   // sets process environment variables
public sealed class SettingsLoaderTests() : TemporaryDirectoryTest("hpcadam-settings-")
{
    [Test]
    public void ArgumentsOverrideTheEnvironmentWhichOverridesTheFile()
    {
        string file = Write("""{ "Optimizer": { "Lr": 0.5, "Gamma1": 0.2 }, "Batch": { "Kappa": 8 } }""");
        Environment.SetEnvironmentVariable("HPCADAM__Optimizer__Gamma1", "0.3");
        Environment.SetEnvironmentVariable("HPCADAM__Batch__Kappa", "16");
        try
        {
            TrainerSettings settings = SettingsLoader.Load(file, ["--Batch:Kappa=32", "--Model:Hidden", "512,256"]);
            Assert.That(settings.Optimizer.Lr, Is.EqualTo(0.5));          // file
            Assert.That(settings.Optimizer.Gamma1, Is.EqualTo(0.3));      // environment over file
            Assert.That(settings.Batch.Kappa, Is.EqualTo(32));            // argument over environment
            Assert.That(settings.Model.Hidden, Is.EqualTo("512,256"));
            Assert.That(settings.Optimizer.Gamma2, Is.EqualTo(0.001));    // default
        }
        finally
        {
            Environment.SetEnvironmentVariable("HPCADAM__Optimizer__Gamma1", null);
            Environment.SetEnvironmentVariable("HPCADAM__Batch__Kappa", null);
        }
    }

    [Test]
    public void AnUnknownKeyAnywhereIsAnErrorNamingIt()
    {
        string file = Write("""{ "Optimizer": { "Learningrate": 0.5 } }""");
        Assert.That(() => SettingsLoader.Load(file, []),
            Throws.TypeOf<SettingsException>().With.Message.StartsWith("unknown configuration key Optimizer:Learningrate (known keys: Model:Name, Model:Hidden,"));
        Assert.That(() => SettingsLoader.Load(null, ["--Optimiser:Lr=1"]),
            Throws.TypeOf<SettingsException>().With.Message.StartsWith("unknown configuration key Optimiser:Lr"));
    }

    [Test]
    public void AValueOfTheWrongTypeIsAOneLineErrorNamingTheKey()
    {
        Assert.That(() => SettingsLoader.Load(null, ["--Batch:Kappa=four"]),
            Throws.TypeOf<SettingsException>().With.Message.Contains("Batch:Kappa").And.Message.Not.Contain("\n"));
    }

    [Test]
    public void AMissingOrMalformedFileIsAnError()
    {
        Assert.That(() => SettingsLoader.Load(Path.Combine(TestDirectory, "absent.json"), []),
            Throws.TypeOf<SettingsException>().With.Message.EndsWith("absent.json does not exist"));
        Assert.That(() => SettingsLoader.Load(Write("{ not json"), []),
            Throws.TypeOf<SettingsException>().With.Message.StartsWith("the configuration cannot be read"));
    }

    [Test]
    public void TheResolvedSettingsReadBackUnchanged()
    {
        TrainerSettings settings = SettingsLoader.Load(null, ["--Optimizer:Name=adam", "--Train:Steps=123", "--Trace:Samples=true"]);
        TrainerSettings again = SettingsLoader.Load(Write(SettingsLoader.ToJson(settings)), []);
        Assert.That(SettingsLoader.ToJson(again), Is.EqualTo(SettingsLoader.ToJson(settings)));
        Assert.That((again.Optimizer.Name, again.Train.Steps, again.Trace.Samples), Is.EqualTo(("adam", 123L, true)));
    }

    private string Write(string json)
    {
        string path = Path.Combine(TestDirectory, $"config-{Guid.NewGuid():N}.json");
        File.WriteAllText(path, json);
        return path;
    }
}
