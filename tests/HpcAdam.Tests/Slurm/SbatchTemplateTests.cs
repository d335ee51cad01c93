using System.Text.RegularExpressions;

namespace HpcAdam.Tests.Slurm;

/// <summary>slurm/hpcadam.sbatch, the job users copy: it parses, explains itself, and Slurm takes every directive.</summary>
[TestFixture]
public sealed partial class SbatchTemplateTests
{
    private static readonly string s_template = Path.Combine(ChildProcess.RepoRoot, "slurm", "hpcadam.sbatch");

    [Test]
    public void BashParsesIt()
    {
        ProcessOutcome outcome = ChildProcess.Run("bash", ["-n", s_template], environment: null, TimeSpan.FromSeconds(30));
        Assert.That(outcome.ExitCode, Is.Zero, outcome.ToString());
    }

    [Test]
    public void EveryDirectiveHasACommentSayingWhy()
    {
        string[] directives = File.ReadAllLines(s_template).Where(line => line.StartsWith("#SBATCH", StringComparison.Ordinal)).ToArray();
        Assert.That(directives, Is.Not.Empty);
        Assert.That(directives.Where(line => !CommentedDirective().IsMatch(line)), Is.Empty, "#SBATCH lines without a comment");
        Assert.That(directives, Has.Some.Contains("--signal=USR1@").And.Some.Contains("--requeue").And.Some.Contains("--open-mode=append"));
    }

    [Test]
    public void TheOneNodeSlurmAcceptsEveryDirective()
    {
        // --test-only: Slurm validates the job and says when it would start, and runs nothing.
        ProcessOutcome outcome = LocalSlurm.OneNode.Run("sbatch", ["--test-only", s_template], TimeSpan.FromSeconds(30));
        Assert.That(outcome.ExitCode, Is.Zero, outcome.ToString());
        Assert.That(outcome.Stderr, Does.Contain("to start at"), outcome.ToString());
    }

    [GeneratedRegex(@"^#SBATCH +--\S+ +# *\S")]
    private static partial Regex CommentedDirective();
}
