using System.ComponentModel;
using System.Globalization;
using System.Collections.Concurrent;
using System.Reflection;

namespace HpcAdam.Training;

/// <summary>One configuration key: its section and name, the type of its value, its default and what it means.</summary>
public sealed record SettingKey(string Section, string Name, Type Type, string Default, string Description)
{
    public string Path => $"{Section}:{Name}";

    /// <summary>Null when <paramref name="text"/> is a value of this key's type, else why not, naming the key.</summary>
    public string? TypeProblem(string text)
    {
        string trimmed = text.Trim();
        bool fits = Type == typeof(string)
            || (Type == typeof(int) && int.TryParse(trimmed, NumberStyles.Integer, CultureInfo.InvariantCulture, out _))
            || (Type == typeof(long) && long.TryParse(trimmed, NumberStyles.Integer, CultureInfo.InvariantCulture, out _))
            || (Type == typeof(double) && double.TryParse(trimmed, NumberStyles.Float, CultureInfo.InvariantCulture, out _))
            || (Type == typeof(bool) && bool.TryParse(trimmed, out _));
        string kind = Type == typeof(bool) ? "true or false" : Type == typeof(double) ? "a number" : "a whole number";
        return fits ? null : $"{Path} = '{text}' is not {kind}";
    }
}

/// <summary>
/// Every key of a settings class (<see cref="TrainingSettings"/> or one derived from it), read from
/// the class itself, so the loader, the help text and the test of docs/configuration.md cannot drift
/// apart; and the nearest key to a misspelt one.
/// </summary>
public sealed class SettingKeys
{
    private static readonly ConcurrentDictionary<Type, SettingKeys> s_bySettingsType = new();

    private SettingKeys(Type settingsType) => All = Read(settingsType);

    /// <summary>The keys of <typeparamref name="TSettings"/>, its sections and their properties in declaration order.</summary>
    public static SettingKeys Of<TSettings>() where TSettings : TrainingSettings, new() =>
        s_bySettingsType.GetOrAdd(typeof(TSettings), type => new SettingKeys(type));

    public IReadOnlyList<SettingKey> All { get; }

    public SettingKey? Find(string path) =>
        All.FirstOrDefault(key => string.Equals(key.Path, path, StringComparison.OrdinalIgnoreCase));

    /// <summary>The known key a user most likely meant by <paramref name="unknown"/>, or null when none is close.</summary>
    public string? Nearest(string unknown)
    {
        string wanted = unknown.ToLowerInvariant();
        string wantedName = wanted[(wanted.LastIndexOf(':') + 1)..];
        (string? best, int distance) = (null, int.MaxValue);
        foreach (SettingKey key in All)
        {
            // A right name under the wrong section ("Train:Lr") is as likely as a typo in either.
            int candidate = Math.Min(Levenshtein(wanted, key.Path.ToLowerInvariant()), Levenshtein(wantedName, key.Name.ToLowerInvariant()) + 2);
            if (candidate < distance)
                (best, distance) = (key.Path, candidate);
        }
        return distance <= Math.Max(2, wanted.Length / 4) ? best : null;
    }

    /// <summary><paramref name="keys"/> as a table by section: name, default, meaning.</summary>
    public static void WriteTable(TextWriter output, IEnumerable<SettingKey> keys)
    {
        foreach (IGrouping<string, SettingKey> section in keys.GroupBy(key => key.Section))
        {
            output.WriteLine($"  {section.Key}");
            foreach (SettingKey key in section)
                output.WriteLine($"    {key.Name,-20} {(key.Default.Length == 0 ? "\"\"" : key.Default),-14} {key.Description}");
        }
    }

    private static SettingKey[] Read(Type settingsType)
    {
        object defaults = Activator.CreateInstance(settingsType)!;
        // The sections a derived class adds come first: a program's own model and data read best at the top.
        return settingsType.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .OrderBy(section => section.DeclaringType == settingsType ? 0 : 1)
            .SelectMany(section => section.PropertyType.GetProperties(BindingFlags.Public | BindingFlags.Instance).Select(key =>
                new SettingKey(section.Name, key.Name, key.PropertyType, DefaultText(key.GetValue(section.GetValue(defaults))),
                    key.GetCustomAttribute<DescriptionAttribute>()?.Description
                        ?? throw new InvalidOperationException($"{section.Name}:{key.Name} has no [Description]"))))
            .ToArray();
    }

    private static string DefaultText(object? value) => value switch
    {
        bool flag => flag ? "true" : "false",
        double number => number.ToString("G", CultureInfo.InvariantCulture).Replace("E-0", "e-", StringComparison.Ordinal).Replace("E", "e", StringComparison.Ordinal),
        IFormattable number => number.ToString(null, CultureInfo.InvariantCulture),
        _ => (string?)value ?? "",
    };

    private static int Levenshtein(string a, string b)
    {
        int[] previous = Enumerable.Range(0, b.Length + 1).ToArray(), current = new int[b.Length + 1];
        for (int i = 1; i <= a.Length; i++)
        {
            current[0] = i;
            for (int j = 1; j <= b.Length; j++)
                current[j] = Math.Min(Math.Min(current[j - 1], previous[j]) + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
            (previous, current) = (current, previous);
        }
        return previous[b.Length];
    }
}
