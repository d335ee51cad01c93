using System.CommandLine;
using System.CommandLine.Help;
using System.CommandLine.Invocation;
using System.Runtime.CompilerServices;
using HpcAdam.Trainer.Data;

namespace HpcAdam.Trainer.Configuration;

/// <summary>
/// A command that takes settings, all through one system: <c>--config FILE</c>, then
/// <c>HPCADAM__Section__Key</c> variables, then <c>--Section:Key=value</c> arguments. A setting or
/// data file that cannot be used is one line naming it, exit code 2, before anything runs; the
/// command's <c>--help</c> lists the keys it reads with their defaults and meanings.
/// </summary>
internal static class SettingsCommand
{
    private static readonly ConditionalWeakTable<Command, Func<SettingKey, bool>> s_reads = [];

    /// <param name="reads">The keys the command reads, for its help text; every key of <see cref="TrainerSettings"/> is accepted.</param>
    /// <param name="run">Runs the command with the loaded settings; a <see cref="SettingsException"/> or <see cref="DataFileException"/> it throws is a usage error.</param>
    public static Command Create(string name, string description, Func<SettingKey, bool> reads, Func<ParseResult, TrainerSettings, int> run,
        params Option[] options)
    {
        var config = new Option<string?>("--config") { Description = "A JSON file of settings, e.g. {\"Optimizer\": {\"Lr\": 0.001}}." };
        var command = new Command(name, description) { config };
        foreach (Option option in options)
            command.Options.Add(option);
        command.TreatUnmatchedTokensAsErrors = false;
        s_reads.Add(command, reads);
        command.SetAction(parsed =>
        {
            try
            {
                return run(parsed, SettingsLoader.Load<TrainerSettings>(parsed.GetValue(config), parsed.UnmatchedTokens));
            }
            catch (Exception error) when (error is SettingsException or DataFileException)
            {
                return UsageError.Report($"hpcadam {name}: {error.Message}");
            }
        });
        return command;
    }

    /// <summary>Makes <c>hpcadam COMMAND --help</c> end with the table of the keys COMMAND reads.</summary>
    public static void ListKeysInHelp(RootCommand root)
    {
        foreach (HelpOption help in root.Options.OfType<HelpOption>())
            help.Action = new HelpWithKeys((HelpAction)help.Action!);
    }

    private sealed class HelpWithKeys(HelpAction standard) : SynchronousCommandLineAction
    {
        public override bool ClearsParseErrors => true;

        public override int Invoke(ParseResult parsed)
        {
            int exitCode = standard.Invoke(parsed);
            if (s_reads.TryGetValue(parsed.CommandResult.Command, out Func<SettingKey, bool>? reads))
            {
                Console.WriteLine($"Settings: --config FILE, then {SettingsLoader.EnvironmentPrefix}Section__Key=value variables, then --Section:Key=value arguments, each over the one before.");
                Console.WriteLine("  Section");
                Console.WriteLine($"    {"Key",-20} {"default",-14} meaning");
                SettingKeys.WriteTable(Console.Out, TrainerSettings.Keys.All.Where(reads));
            }
            return exitCode;
        }
    }
}
