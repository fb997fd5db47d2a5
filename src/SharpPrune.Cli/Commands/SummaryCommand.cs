using System.CommandLine;
using SharpPrune.Vision.Models;

namespace SharpPrune.Cli.Commands;

/// <summary><c>sharpprune summary</c>: the layer table of a zoo model or of a checkpoint's model, e.g. a shrunk one (torchsummary's layout).</summary>
internal static class SummaryCommand
{
    public static Command Create(CliContext ctx)
    {
        var model = CliOptions.String("--model", $"Architecture ({string.Join(", ", ModelZoo.Names)}); or --load");
        var load = CliOptions.String("--load", "Checkpoint whose model to summarise (its recorded architecture and layer widths)");
        var numClasses = CliOptions.Int("--num-classes", "Number of classes", 10, 1, 100_000);
        var cmd = new Command("summary", "Print a model's layers, output shapes and parameter counts") { model, load, numClasses };
        SharpPruneCli.SetHandler(cmd, ctx, parse =>
        {
            string? path = parse.GetValue(load);
            var loaded = path is null ? null : ModelLoader.Load(path, parse.GetValue(model));
            string name = loaded?.ModelName ?? parse.GetValue(model) ?? throw new CliUsageException("pass --model or --load");
            var module = loaded?.Model ?? ModelLoader.Create(name, parse.GetValue(numClasses), seed: 0);
            int[] input = loaded?.InputShape ?? ModelZoo.InputShape(name);
            ctx.Out.Write(ModelSummary.Run(module, input).Format());
            ctx.Out.WriteLine($"Multiply-adds per image (conv + linear): {Flops.Count(module, input).TotalMacs:N0}");
            return 0;
        });
        return cmd;
    }
}
