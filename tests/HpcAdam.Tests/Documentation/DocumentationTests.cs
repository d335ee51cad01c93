using System.Text.RegularExpressions;
using HpcAdam.Trainer.Configuration;

namespace HpcAdam.Tests.Documentation;

/// <summary>The documents point only at what exists: files, sections of docs/ALGORITHMS.md, settings with their real defaults.</summary>
public sealed class DocumentationTests
{
    private static readonly string s_root = ChildProcess.RepoRoot;

    private static IEnumerable<string> Documents() =>
        new[] { "README.md", "DEVELOPERS.md" }.Select(name => Path.Combine(s_root, name))
            .Concat(Directory.GetFiles(Path.Combine(s_root, "docs"), "*.md"));

    /// <summary>Source and text files a reader opens: the code, the tests, the scripts and the documents.</summary>
    private static IEnumerable<string> TextFiles() =>
        new[] { "src", "tests", "scripts", "slurm", "examples", "native" }
            .SelectMany(folder => Directory.GetFiles(Path.Combine(s_root, folder), "*", SearchOption.AllDirectories))
            .Where(path => !path.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal)
                           && !path.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}", StringComparison.Ordinal)
                           && Path.GetExtension(path) is ".cs" or ".sh" or ".json" or ".c" or ".h" or ".sbatch" or ".js" or ""
                           && Path.GetFileName(path) != $"{nameof(DocumentationTests)}.cs")
            .Concat(Documents());

    [Test]
    public void EveryKeyIsInTheConfigurationPageWithItsDefaultAndMeaning()
    {
        string page = File.ReadAllText(Path.Combine(s_root, "docs", "configuration.md"));
        Assert.Multiple(() =>
        {
            foreach (SettingKey key in TrainerSettings.Keys.All)
                Assert.That(page, Does.Contain($"| `{key.Path}` | `{(key.Default.Length == 0 ? "\"\"" : key.Default)}` | {key.Description} |"), key.Path);
        });
    }

    [Test]
    public void TheLibraryPageShowsTheExamplesProgramAsItIs()
    {
        string program = File.ReadAllText(Path.Combine(s_root, "examples", "sequence-classifier", "Program.cs"));
        Assert.That(File.ReadAllText(Path.Combine(s_root, "docs", "library.md")), Does.Contain($"```csharp\n{program}```"),
            "docs/library.md must show examples/sequence-classifier/Program.cs verbatim");
    }

    [Test]
    public void EveryLinkInTheDocumentsLeadsToAFileOfTheRepository()
    {
        Assert.Multiple(() =>
        {
            foreach (string document in Documents())
                foreach (Match link in Regex.Matches(File.ReadAllText(document), @"\]\(([^)#\s]+)(#[^)]*)?\)"))
                {
                    string target = link.Groups[1].Value;
                    if (target.StartsWith("http", StringComparison.Ordinal))
                        continue;
                    string path = Path.GetFullPath(Path.Combine(Path.GetDirectoryName(document)!, target));
                    Assert.That(File.Exists(path) || Directory.Exists(path), Is.True, $"{Path.GetFileName(document)} links to {target}");
                    Assert.That(path, Does.StartWith(s_root), $"{Path.GetFileName(document)} links outside the repository: {target}");
                }
        });
    }

    [Test]
    public void EveryCitationOfTheAlgorithmsPageNamesItsPathAndASectionItHas()
    {
        string[] headings = File.ReadAllLines(Path.Combine(s_root, "docs", "ALGORITHMS.md"))
            .Where(line => line.StartsWith("## ", StringComparison.Ordinal)).Select(line => line[3..]).ToArray();
        int mentions = 0, sections = 0;
        Assert.Multiple(() =>
        {
            foreach (string file in TextFiles())
            {
                string text = File.ReadAllText(file), name = Path.GetRelativePath(s_root, file);
                bool inDocs = Path.GetDirectoryName(file) == Path.Combine(s_root, "docs");
                // Outside docs/ the page is docs/ALGORITHMS.md; inside, a link may name it relative to docs/.
                foreach (Match mention in Regex.Matches(text, @"(\S*)ALGORITHMS\.md"))
                {
                    mentions++;
                    string before = mention.Groups[1].Value;
                    Assert.That(before.EndsWith("docs/", StringComparison.Ordinal) || (inDocs && before.EndsWith("](", StringComparison.Ordinal)), Is.True,
                        $"{name}: '{mention.Value}' is not the page's path in the repository");
                }
                foreach (Match citation in Regex.Matches(text, @"ALGORITHMS\.md\)?,? ""([^""]+)"""))
                {
                    sections++;
                    Assert.That(headings.Any(heading => heading.StartsWith(citation.Groups[1].Value, StringComparison.Ordinal)), Is.True,
                        $"{name}: docs/ALGORITHMS.md has no section \"{citation.Groups[1].Value}\"");
                }
            }
        });
        Assert.That((mentions, sections), Is.GreaterThan((10, 5)).Using<(int, int)>((a, b) => a.Item1 > b.Item1 && a.Item2 > b.Item2 ? 1 : -1),
            "the patterns found next to no citation: they would prove nothing");
    }
}
