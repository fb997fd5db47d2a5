namespace SharpPrune.Cli;

/// <summary>A problem with what the user asked for (missing file, wrong checkpoint…): one line, exit code 1.</summary>
public class CliException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>A combination of options that cannot work (found after parsing): one line, exit code 2.</summary>
public sealed class CliUsageException(string message) : CliException(message);
