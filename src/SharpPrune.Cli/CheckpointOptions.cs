using System.CommandLine;

namespace SharpPrune.Cli;

/// <summary>
/// <c>--load</c>, <c>--model</c> and <c>--num-classes</c>, declared once for every command that reads a checkpoint
/// (eval, prune, report, export): which file, and the architecture for a checkpoint that does not record it.
/// </summary>
internal sealed class CheckpointOptions(string loadDescription, bool loadRequired = true)
{
    public Option<string> Load { get; } = CliOptions.String("--load", loadDescription, required: loadRequired);
    public Option<string> Model { get; } = CliOptions.String("--model", "Architecture, for checkpoints that do not record it");
    public Option<int?> NumClasses { get; } = CliOptions.OptionalInt("--num-classes", "Number of classes, for checkpoints that do not record it", 1);

    public string Path(ParseResult parse) => parse.GetValue(Load)!;

    /// <summary>Rebuilds the model the options name (see <see cref="ModelLoader.Load"/>).</summary>
    public LoadedModel LoadModel(ParseResult parse) => ModelLoader.Load(Path(parse), parse.GetValue(Model), parse.GetValue(NumClasses));
}
