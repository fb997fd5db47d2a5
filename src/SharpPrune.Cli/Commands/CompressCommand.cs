using System.CommandLine;
using SharpPrune.IO;
using SharpPrune.Pruning.Compression;
using SharpPrune.Vision.Models;

namespace SharpPrune.Cli.Commands;

/// <summary>
/// <c>sharpprune compress</c>: a quantized checkpoint into a .spz file (relative indices and codebook indices
/// Huffman-coded), printing Deep Compression's per-layer table. <c>eval</c>, <c>report</c> and <c>train --load</c>
/// open the file directly.
/// </summary>
internal static class CompressCommand
{
    public static Command Create(CliContext ctx)
    {
        var load = CliOptions.String("--load", "Quantized checkpoint (sharpprune quantize, then optionally train --load)", required: true);
        var save = CliOptions.String("--save", "Output .spz file", required: true);
        var json = CliOptions.Flag("--json", "Print the table as JSON");
        var model = CliOptions.String("--model", "Architecture, for checkpoints that do not record it");
        var numClasses = CliOptions.OptionalInt("--num-classes", "Number of classes, for checkpoints that do not record it", 1);
        var cmd = new Command("compress", "Write a quantized model as a Huffman-coded sparse .spz file") { load, save, json, model, numClasses };
        SharpPruneCli.SetHandler(cmd, ctx, parse =>
        {
            string path = parse.GetValue(load)!;
            var loaded = ModelLoader.Load(path, parse.GetValue(model), parse.GetValue(numClasses));
            // Only what rebuilds and evaluates the model: every byte counts in a small model's file.
            var meta = new Dictionary<string, string>
            {
                [CheckpointKeys.Model] = loaded.ModelName,
                [CheckpointKeys.NumClasses] = CheckpointKeys.Format(loaded.NumClasses),
            };
            if (loaded.Dataset is { } ds) meta[CheckpointKeys.Dataset] = ds;
            // The structure that rebuilds the model on --load: an imported graph always needs it; a zoo model only
            // when a shrink narrowed its layers (the dense zoo widths would be bytes for nothing).
            var (key, structure) = loaded.StructureMetadata();
            if (loaded.IsGraph || structure != ModelArchitecture.Describe(ModelLoader.Create(loaded.ModelName, loaded.NumClasses, seed: 0)))
                meta[key] = structure;
            byte[] bytes;
            try { bytes = SpzFile.Encode(loaded.Model.StateDict(), meta).Bytes; }
            catch (ArgumentException e) { throw new CliException($"{path}: {ErrorMessages.OneLine(e)}", e); }
            string output = parse.GetValue(save)!;
            var dir = Path.GetDirectoryName(Path.GetFullPath(output));
            if (dir is not null) Directory.CreateDirectory(dir);
            AtomicFile.WriteAllBytes(output, bytes);
            var written = SpzFile.Read(bytes, output); // the table from what a reader gets back
            var report = CompressionReport.FromFile(written);
            ctx.Out.Write(parse.GetValue(json) ? report.ToJson() + "\n" : report.FormatTable());
            var (dense, file) = CompressionReport.Sizes(written);
            ctx.Out.WriteLine($"saved {output}: {file:N0} bytes ({dense:N0} as dense float32, {(double)dense / file:F2}x smaller)");
            return 0;
        });
        return cmd;
    }
}
