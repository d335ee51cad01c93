namespace HpcAdam.Trainer.Doctor;

/// <summary>What doctor found: named facts, and the problems that stop training.</summary>
internal sealed class DoctorReport
{
    private readonly List<(string Name, string Value)> _facts = [];
    private readonly List<string> _problems = [];

    public bool HasProblems => _problems.Count > 0;

    public void Add(string name, string value) => _facts.Add((name, value));

    public void Problem(string text) => _problems.Add(text);

    /// <summary>The first rank prints the report; any other rank prints only its own problems.</summary>
    public void Print(int rank, int failedRanks, int worldSize)
    {
        bool isFirstRank = rank == 0;
        if (isFirstRank)
        {
            Console.WriteLine("hpcadam doctor");
            foreach (var (name, value) in _facts)
                Console.WriteLine($"  {name,-17} {value}");
        }
        foreach (string problem in _problems)
            Console.Error.WriteLine($"  problem on rank {rank}: {problem}");
        if (!isFirstRank)
            return;
        Console.WriteLine(failedRanks == 0
            ? $"verdict: ready to train on {worldSize} rank(s)"
            : $"verdict: cannot train: {failedRanks} of {worldSize} rank(s) found problems (listed above)");
    }
}
