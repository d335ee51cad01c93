using System.Text.RegularExpressions;
using HpcAdam.Trainer.Configuration;
using HpcAdam.Trainer.Sweep;

namespace HpcAdam.Tests.Documentation;

/// <summary>What `hpcadam --help` and each command's --help print: short command lines, and every key a command reads.</summary>
public sealed class HelpTests
{
    [Test]
    public void TheCommandListGivesEachCommandOneOrTwoLines()
    {
        ProcessOutcome help = ChildProcess.RunAlone(["--help"]);
        Assert.That(help.ExitCode, Is.Zero, help.ToString());
        string[] commands = help.Stdout.Split("Commands:")[1].Split('\n', StringSplitOptions.RemoveEmptyEntries);
        string[] names = commands.Where(line => Regex.IsMatch(line, @"^  \S")).Select(line => line.Trim().Split(' ')[0]).ToArray();
        Assert.That(names, Is.SupersetOf(new[] { "train", "sweep", "invariance-probe", "doctor", "selftest", "bench", "compare" }));
        Assert.That(commands, Has.Length.LessThanOrEqualTo(2 * names.Length), help.Stdout);
        Assert.That(commands, Has.All.Length.LessThan(200), "one line per entry, not a list of keys");
    }

    [TestCase("train", "Sweep", "Probe")]
    [TestCase("sweep", "Probe")]
    [TestCase("invariance-probe", "Checkpoint", "Adaptive", "Run")]
    public void ACommandsHelpListsTheKeysItReadsBySectionWithDefaultAndMeaning(string command, params string[] sectionsItDoesNotRead)
    {
        ProcessOutcome help = ChildProcess.RunAlone([command, "--help"]);
        Assert.That(help.ExitCode, Is.Zero, help.ToString());
        string keys = help.Stdout.Split("Settings:")[1];
        Assert.Multiple(() =>
        {
            foreach (SettingKey key in TrainerSettings.Keys.All.Where(key => !sectionsItDoesNotRead.Contains(key.Section)))
            {
                bool listed = Regex.IsMatch(keys, $@"\n  {key.Section}\n(    .*\n)*?    {key.Name} +{Regex.Escape(key.Default.Length == 0 ? "\"\"" : key.Default)} +{Regex.Escape(key.Description)}\n");
                bool readByCommand = command != "invariance-probe" || key.Section is "Model" or "Data" or "Probe" || key.Path is "Batch:MicroBatchSize"
                    or "Optimizer:Gamma1" or "Optimizer:Gamma2" or "Optimizer:Eps" or "Optimizer:WeightDecay" or "Train:Seed" or "Sweep:Kappas" or "Sweep:Lrs" or "Sweep:Threshold";
                if (command == "sweep" && SweepPlan.SetPerRun.Contains(key.Path))
                    readByCommand = false;
                Assert.That(listed, Is.EqualTo(readByCommand), $"{command} --help and {key.Path}");
            }
            foreach (string section in sectionsItDoesNotRead)
                Assert.That(keys, Does.Not.Contain($"\n  {section}\n"));
        });
    }
}
