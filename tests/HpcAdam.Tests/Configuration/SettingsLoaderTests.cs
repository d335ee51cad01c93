using System.Globalization;
using System.Text.Json;
using HpcAdam.Training;
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
            TrainerSettings settings = SettingsLoader.Load<TrainerSettings>(file, ["--Batch:Kappa=32", "--Model:Hidden", "512,256"]);
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
    public void AnUnknownKeyIsAShortErrorNamingItWhereItCameFromAndTheNearestKey()
    {
        string file = Write("""{ "Optimizer": { "Lrr": 0.5 } }""");
        Assert.That(() => SettingsLoader.Load<TrainerSettings>(file, []),
            Throws.TypeOf<SettingsException>().With.Message.EqualTo($"unknown configuration key Optimizer:Lrr (in {file}): did you mean Optimizer:Lr?"));
        Assert.That(() => SettingsLoader.Load<TrainerSettings>(null, ["--Optimiser:Lr=1"]),
            Throws.TypeOf<SettingsException>().With.Message.EqualTo("unknown configuration key Optimiser:Lr (from --Optimiser:Lr): did you mean Optimizer:Lr?"));
        Environment.SetEnvironmentVariable("HPCADAM__Train__Lr", "0.1");
        try
        {
            // The right name under the wrong section.
            Assert.That(() => SettingsLoader.Load<TrainerSettings>(null, []),
                Throws.TypeOf<SettingsException>().With.Message.EqualTo("unknown configuration key Train:Lr (from HPCADAM__Train__Lr): did you mean Optimizer:Lr?"));
        }
        finally
        {
            Environment.SetEnvironmentVariable("HPCADAM__Train__Lr", null);
        }
        Assert.That(() => SettingsLoader.Load<TrainerSettings>(null, ["--Colour:Scheme=dark"]),
            Throws.TypeOf<SettingsException>().With.Message.EqualTo("unknown configuration key Colour:Scheme (from --Colour:Scheme): --help lists the keys"));
    }

    [TestCase("Optimizer:Lrs", "Optimizer:Lr")]
    [TestCase("optimizer:gamma_1", "Optimizer:Gamma1")]
    [TestCase("Batch:Kapa", "Batch:Kappa")]
    [TestCase("Batch:MicrobatchSize", "Batch:MicroBatchSize")]
    [TestCase("Checkpoint:Evry", "Checkpoint:Every")]
    [TestCase("Sweep:Lr", "Sweep:Lrs")]
    [TestCase("Model:Layers", null)]
    public void TheNearestKeyIsAPlausibleTypo(string unknown, string? nearest)
    {
        Assert.That(TrainerSettings.Keys.Nearest(unknown), Is.EqualTo(nearest));
    }

    [TestCase("--Batch:Kappa=four", "Batch:Kappa = 'four' is not a whole number (from --Batch:Kappa)")]
    [TestCase("--Optimizer:Lr=fast", "Optimizer:Lr = 'fast' is not a number (from --Optimizer:Lr)")]
    [TestCase("--Trace:Samples=yes", "Trace:Samples = 'yes' is not true or false (from --Trace:Samples)")]
    [TestCase("--Train:Steps=1.5", "Train:Steps = '1.5' is not a whole number (from --Train:Steps)")]
    public void AValueOfTheWrongTypeIsAOneLineErrorNamingTheKey(string argument, string message)
    {
        Assert.That(() => SettingsLoader.Load<TrainerSettings>(null, [argument]), Throws.TypeOf<SettingsException>().With.Message.EqualTo(message));
    }

    [Test]
    public void EveryKeyHasADescriptionAndItsDefaultIsWhatARunWithoutSettingsGets()
    {
        Assert.That(TrainerSettings.Keys.All, Has.Count.GreaterThan(40));
        Assert.That(TrainerSettings.Keys.All.Select(key => key.Description), Has.All.Not.Empty);
        // A few defaults as docs/configuration.md states them, written out by hand.
        Assert.That(TrainerSettings.Keys.Find("Optimizer:Lr")!.Default, Is.EqualTo("0.001"));
        Assert.That(TrainerSettings.Keys.Find("Optimizer:Eps")!.Default, Is.EqualTo("1e-8"));
        Assert.That(TrainerSettings.Keys.Find("Trace:Samples")!.Default, Is.EqualTo("false"));
        // Every key: the default the table shows is the value the loader resolves when nothing sets it, read back from its JSON.
        using JsonDocument resolved = JsonDocument.Parse(SettingsLoader.ToJson(SettingsLoader.Load<TrainerSettings>(null, [])));
        Assert.Multiple(() =>
        {
            foreach (SettingKey key in TrainerSettings.Keys.All)
            {
                JsonElement value = resolved.RootElement.GetProperty(key.Section).GetProperty(key.Name);
                object actual = key.Type == typeof(string) ? value.GetString()! : key.Type == typeof(bool) ? value.GetBoolean()
                    : key.Type == typeof(double) ? value.GetDouble() : value.GetInt64();
                object shown = key.Type == typeof(string) ? key.Default : key.Type == typeof(bool) ? bool.Parse(key.Default)
                    : key.Type == typeof(double) ? double.Parse(key.Default, CultureInfo.InvariantCulture) : long.Parse(key.Default, CultureInfo.InvariantCulture);
                Assert.That(actual, Is.EqualTo(shown), key.Path);
            }
        });
    }

    [Test]
    public void AMissingOrMalformedFileIsAnError()
    {
        Assert.That(() => SettingsLoader.Load<TrainerSettings>(Path.Combine(TestDirectory, "absent.json"), []),
            Throws.TypeOf<SettingsException>().With.Message.EndsWith("absent.json does not exist"));
        Assert.That(() => SettingsLoader.Load<TrainerSettings>(Write("{ not json"), []),
            Throws.TypeOf<SettingsException>().With.Message.StartsWith("the configuration cannot be read"));
    }

    [Test]
    public void TheResolvedSettingsReadBackUnchanged()
    {
        TrainerSettings settings = SettingsLoader.Load<TrainerSettings>(null, ["--Optimizer:Name=adam", "--Train:Steps=123", "--Trace:Samples=true"]);
        TrainerSettings again = SettingsLoader.Load<TrainerSettings>(Write(SettingsLoader.ToJson(settings)), []);
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
