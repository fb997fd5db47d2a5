using System.CommandLine;
using System.Globalization;
using SharpPrune.Pruning;
using SharpPrune.Pruning.Compression;
using SharpPrune.Vision.Models;

namespace SharpPrune.Cli.Commands;

/// <summary><c>sharpprune report</c>: per-layer non-zeros of a checkpoint in the layout of Han et al. 2015's AlexNet table, or JSON.</summary>
internal static class ReportCommand
{
    public static Command Create(CliContext ctx)
    {
        var checkpoint = new CheckpointOptions("Checkpoint to report on (dense or pruned)");
        var json = CliOptions.Flag("--json", "Print the report as JSON");
        var cmd = new Command("report", "Print the non-zero weights per layer and the compression rate") { checkpoint.Load, json, checkpoint.Model, checkpoint.NumClasses };
        SharpPruneCli.SetHandler(cmd, ctx, parse =>
        {
            string path = checkpoint.Path(parse);
            var loaded = checkpoint.LoadModel(parse);
            var report = PruningReport.FromModule(loaded.Model);
            // A .spz file also gets Deep Compression's table (bits and ratios from its real bytes).
            var compressed = ModelLoader.IsSpz(path) ? CompressionReport.FromFile(ModelLoader.ReadSpz(path)) : null;
            if (parse.GetValue(json)) ctx.Out.WriteLine(compressed?.ToJson() ?? report.ToJson());
            else
            {
                ctx.Out.Write(report.FormatTable());
                if (compressed is not null) ctx.Out.Write("\n" + compressed.FormatTable());
                // What the zeros buy at inference: multiply-adds a sparse kernel would still do.
                int[] input = loaded.InputShape;
                long dense = Flops.Count(loaded.Model, input).TotalMacs, sparse = Flops.Count(loaded.Model, input, countZeros: false).TotalMacs;
                ctx.Out.WriteLine(string.Format(CultureInfo.InvariantCulture,
                    "Multiply-adds per image (conv + linear): {0:N0} dense, {1:N0} non-zero ({2:F2}x fewer)", dense, sparse, (double)dense / sparse));
            }
            return 0;
        });
        return cmd;
    }
}
