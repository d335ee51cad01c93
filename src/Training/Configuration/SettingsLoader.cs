using System.Text.Json;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Configuration.EnvironmentVariables;
using Microsoft.Extensions.Configuration.Json;

namespace HpcAdam.Training;

/// <summary>
/// Reads settings (<see cref="TrainingSettings"/>, or a class derived from it) from a JSON file, then <c>HPCADAM__Section__Key</c>
/// environment variables, then <c>--Section:Key=value</c> arguments (each overriding the one
/// before). An unknown key or a value of the wrong type is a <see cref="SettingsException"/>
/// with a one-line message: a misspelt key must never be silently ignored.
/// </summary>
public static class SettingsLoader
{
    public const string EnvironmentPrefix = "HPCADAM__";

    private static readonly JsonSerializerOptions s_indented = new() { WriteIndented = true };

    public static TSettings Load<TSettings>(string? configFile, IReadOnlyList<string> overrides) where TSettings : TrainingSettings, new()
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

        SettingKeys keys = SettingKeys.Of<TSettings>();
        foreach ((string path, string? value) in configuration.AsEnumerable().OrderBy(entry => entry.Key, StringComparer.Ordinal))
        {
            if (value is null)
                continue;
            if (keys.Find(path) is not { } key)
                throw new SettingsException($"unknown configuration key {path} {Source(configuration, path, configFile)}: " +
                                            (keys.Nearest(path) is { } nearest ? $"did you mean {nearest}?" : "--help lists the keys"));
            if (key.TypeProblem(value) is { } problem)
                throw new SettingsException($"{problem} {Source(configuration, path, configFile)}");
        }
        // Every key and value is known to fit now, so binding cannot fail.
        var settings = new TSettings();
        configuration.Bind(settings);
        return settings;
    }

    /// <summary>The resolved settings as JSON that <see cref="Load"/> reads back unchanged (config.json of a run).</summary>
    public static string ToJson(TrainingSettings settings) =>
        JsonSerializer.Serialize(settings, settings.GetType(), s_indented);

    /// <summary>Where the value of <paramref name="path"/> came from: the last layer that sets it.</summary>
    private static string Source(IConfigurationRoot configuration, string path, string? configFile) =>
        configuration.Providers.Reverse().First(provider => provider.TryGet(path, out _)) switch
        {
            JsonConfigurationProvider => $"(in {configFile})",
            EnvironmentVariablesConfigurationProvider => $"(from {EnvironmentPrefix}{path.Replace(":", "__", StringComparison.Ordinal)})",
            _ => $"(from --{path})",
        };

    private static string FirstLine(Exception error)
    {
        string message = error.InnerException is { } inner ? $"{error.Message} {inner.Message}" : error.Message;
        return message.ReplaceLineEndings(" ").Trim();
    }
}

/// <summary>A configuration that cannot be used; the message is one line for the user.</summary>
public sealed class SettingsException(string message) : Exception(message);
