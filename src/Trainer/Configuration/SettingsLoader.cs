using System.Reflection;
using System.Text.Json;
using Microsoft.Extensions.Configuration;

namespace HpcAdam.Trainer.Configuration;

/// <summary>
/// Reads <see cref="TrainerSettings"/> from a JSON file, then <c>HPCADAM__Section__Key</c>
/// environment variables, then <c>--Section:Key=value</c> arguments (each overriding the one
/// before). An unknown key or a value of the wrong type is a <see cref="SettingsException"/>
/// with a one-line message: a misspelt key must never be silently ignored.
/// </summary>
internal static class SettingsLoader
{
    public const string EnvironmentPrefix = "HPCADAM__";

    private static readonly JsonSerializerOptions s_indented = new() { WriteIndented = true };

    public static TrainerSettings Load(string? configFile, IReadOnlyList<string> overrides)
    {
        var builder = new ConfigurationBuilder();
        if (configFile is not null)
        {
            if (!File.Exists(configFile))
                throw new SettingsException($"the configuration file {configFile} does not exist");
            builder.AddJsonFile(Path.GetFullPath(configFile), optional: false);
        }
        IConfigurationRoot configuration;
        try
        {
            configuration = builder.AddEnvironmentVariables(EnvironmentPrefix).AddCommandLine(overrides.ToArray()).Build();
        }
        catch (Exception error) when (error is FormatException or InvalidDataException or JsonException)
        {
            throw new SettingsException($"the configuration cannot be read: {FirstLine(error)}");
        }

        string[] known = KnownKeys();
        string[] unknown = configuration.AsEnumerable()
            .Where(entry => entry.Value is not null && !known.Contains(entry.Key, StringComparer.OrdinalIgnoreCase))
            .Select(entry => entry.Key)
            .Order(StringComparer.Ordinal)
            .ToArray();
        if (unknown.Length > 0)
            throw new SettingsException($"unknown configuration key{(unknown.Length > 1 ? "s" : "")} {string.Join(", ", unknown)} " +
                                        $"(known keys: {string.Join(", ", known)})");

        var settings = new TrainerSettings();
        try
        {
            configuration.Bind(settings);
        }
        catch (InvalidOperationException error)
        {
            throw new SettingsException(FirstLine(error));
        }
        return settings;
    }

    /// <summary>Every <c>Section:Key</c> <see cref="TrainerSettings"/> has, in declaration order.</summary>
    public static string[] KnownKeys() =>
        typeof(TrainerSettings).GetProperties()
            .SelectMany(section => section.PropertyType.GetProperties(BindingFlags.Public | BindingFlags.Instance)
                .Select(key => $"{section.Name}:{key.Name}"))
            .ToArray();

    /// <summary>The resolved settings as JSON that <see cref="Load"/> reads back unchanged (config.json of a run).</summary>
    public static string ToJson(TrainerSettings settings) =>
        JsonSerializer.Serialize(settings, s_indented);

    private static string FirstLine(Exception error)
    {
        string message = error.InnerException is { } inner ? $"{error.Message} {inner.Message}" : error.Message;
        return message.ReplaceLineEndings(" ").Trim();
    }
}

/// <summary>A configuration that cannot be used; the message is one line for the user.</summary>
internal sealed class SettingsException(string message) : Exception(message);
