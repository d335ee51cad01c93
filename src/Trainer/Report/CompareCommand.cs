using System.CommandLine;
using System.Globalization;

namespace HpcAdam.Trainer.Report;

/// <summary>
/// `hpcadam compare RUN...`: finished runs side by side (steps, samples, mean batch size, final κ,
/// final test accuracy, and the step and samples at which test accuracy first reached a target),
/// so an adaptive run can be read against fixed-batch runs of the same sample budget.
/// </summary>
internal static class CompareCommand
{
    private const string Name = "hpcadam compare";

    public static Command Create()
    {
        var runs = new Argument<string[]>("runs") { Description = "Run folders written by hpcadam train.", Arity = ArgumentArity.OneOrMore };
        var target = new Option<double>("--target") { Description = "Test accuracy (0 to 1) whose first crossing is reported.", DefaultValueFactory = _ => 0.96 };
        var curves = new Option<bool>("--curves") { Description = "Also print every evaluation: test accuracy against steps and samples." };
        var command = new Command("compare", "Compare finished runs: steps, samples, mean batch size, final κ, accuracy, and when each first reached --target.")
        {
            runs, target, curves,
        };
        command.SetAction(parsed =>
        {
            double goal = parsed.GetValue(target);
            if (!(goal > 0 && goal <= 1))
                return UsageError.Report($"{Name}: --target {goal.ToString(CultureInfo.InvariantCulture)} must be an accuracy in (0, 1]");
            List<RunRecord> records;
            try
            {
                records = parsed.GetValue(runs)!.Select(RunRecord.Read).ToList();
            }
            catch (InvalidDataException error)
            {
                return UsageError.Report($"{Name}: {error.Message}");
            }
            Print(records, goal, parsed.GetValue(curves), Console.Out);
            return ExitCodes.Success;
        });
        return command;
    }

    private static void Print(List<RunRecord> records, double target, bool curves, TextWriter output)
    {
        string reached = $"to {100 * target:0.#}%";
        output.WriteLine(Invariant($"| run | steps | samples | mean batch | final κ | test accuracy | steps {reached} | samples {reached} |"));
        output.WriteLine("|---|---|---|---|---|---|---|---|");
        foreach (RunRecord run in records)
        {
            EvalPoint? first = run.FirstReaching(target);
            output.WriteLine(Invariant(
                $"| {run.Name} | {run.Steps} | {run.Samples} | {run.MeanBatchSize:0.#} | {run.FinalKappa} | {100 * run.Accuracy:0.00}% | {first?.Step.ToString(CultureInfo.InvariantCulture) ?? "never"} | {first?.Samples.ToString(CultureInfo.InvariantCulture) ?? "never"} |"));
        }
        if (!curves)
            return;
        foreach (RunRecord run in records)
        {
            output.WriteLine();
            output.WriteLine($"# {run.Name}: test accuracy against steps and samples");
            output.WriteLine("| step | samples | test accuracy |");
            output.WriteLine("|---|---|---|");
            foreach (EvalPoint point in run.Curve)
                output.WriteLine(Invariant($"| {point.Step} | {point.Samples} | {100 * point.Accuracy:0.00}% |"));
        }
    }

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
