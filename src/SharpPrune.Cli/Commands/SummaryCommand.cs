using System.CommandLine;
using SharpPrune.Vision.Models;

namespace SharpPrune.Cli.Commands;

/// <summary><c>sharpprune summary</c>: the layer table of a zoo model (torchsummary's layout).</summary>
internal static class SummaryCommand
{
    public static Command Create(CliContext ctx)
    {
        var model = CliOptions.String("--model", $"Architecture ({string.Join(", ", ModelZoo.Names)})", required: true);
        var numClasses = CliOptions.Int("--num-classes", "Number of classes", 10, 1, 100_000);
        var cmd = new Command("summary", "Print a model's layers, output shapes and parameter counts") { model, numClasses };
        SharpPruneCli.SetHandler(cmd, ctx, parse =>
        {
            string name = parse.GetValue(model)!;
            var module = ModelLoader.Create(name, parse.GetValue(numClasses), seed: 0);
            int[] input = ModelZoo.InputShape(name);
            ctx.Out.Write(ModelSummary.Run(module, input).Format());
            ctx.Out.WriteLine($"Multiply-adds per image (conv + linear): {Flops.Count(module, input).TotalMacs:N0}");
            return 0;
        });
        return cmd;
    }
}
