using System.CommandLine;
using SharpPrune.IO.Torch;
using SharpPrune.Onnx;
using SharpPrune.Pruning;
using SharpPrune.Vision.Models;

namespace SharpPrune.Cli.Commands;

/// <summary>
/// <c>sharpprune export</c>: a checkpoint (or a freshly initialised zoo model) as an ONNX graph or as a PyTorch
/// state dict file. Pruned models leave with their masks applied to the weights unless <c>--keep-masks</c>.
/// </summary>
internal static class ExportCommand
{
    public static Command Create(CliContext ctx)
    {
        var checkpoint = new CheckpointOptions("Checkpoint to export (safetensors, .pt/.pth/.pth.tar, .onnx) [default: a fresh --model]", loadRequired: false);
        var format = CliOptions.Choice("--format", "Output format", "onnx", "onnx", "pt");
        var output = CliOptions.String("--out", "File to write", required: true);
        var foldBn = CliOptions.Flag("--fold-bn", "ONNX: fold each BatchNorm2d that follows a Conv2d into the conv's weights");
        var keepMasks = CliOptions.Flag("--keep-masks", "pt: keep a pruned model's X_orig/X_mask keys instead of X = X_orig * X_mask");
        var seed = CliOptions.Int("--seed", "Seed of a freshly initialised model (no --load)", 0, 0);
        var cmd = new Command("export", "Write a model as ONNX (for ONNX Runtime and other runtimes) or as a PyTorch state dict (.pt)")
            { checkpoint.Load, format, output, checkpoint.Model, checkpoint.NumClasses, foldBn, keepMasks, seed };
        SharpPruneCli.SetHandler(cmd, ctx, parse =>
        {
            string? path = parse.GetValue(checkpoint.Load);
            string? model = parse.GetValue(checkpoint.Model);
            string outPath = parse.GetValue(output)!;
            var (module, name, shape) = path != null
                ? Loaded(checkpoint.LoadModel(parse))
                : (ModelLoader.Create(model ?? throw new CliUsageException("pass --load CHECKPOINT, or --model NAME to export a freshly initialised model"),
                    parse.GetValue(checkpoint.NumClasses) ?? 10, (ulong)parse.GetValue(seed)), ModelZoo.Canonical(model), ModelZoo.InputShape(model));
            if (parse.GetValue(format) == "onnx")
            {
                if (parse.GetValue(keepMasks)) throw new CliUsageException("--keep-masks applies to --format pt; ONNX graphs always carry the masked weights");
                OnnxExporter.Save(module, shape, outPath, new OnnxExportOptions { FoldBatchNorm = parse.GetValue(foldBn) });
            }
            else
            {
                if (parse.GetValue(foldBn)) throw new CliUsageException("--fold-bn applies to --format onnx");
                var sd = module.StateDict();
                TorchCheckpoint.Save(outPath, parse.GetValue(keepMasks) ? sd : PrunedStateDict.Baked(sd));
            }
            ctx.Out.WriteLine($"wrote {outPath} ({parse.GetValue(format)}, {name}, {new FileInfo(outPath).Length:N0} bytes)");
            return 0;
        });
        return cmd;
    }

    private static (SharpPrune.NN.Module, string, int[]) Loaded(LoadedModel m) => (m.Model, m.ModelName, m.InputShape);
}
